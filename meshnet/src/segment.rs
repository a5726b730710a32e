//! Whole-volume segmentation as brainchop does it: min-max normalise, crop to the brain
//! mask's bounding box plus padding, forward, argmax over classes, zeros outside the crop,
//! optionally only the largest 26-connected component.

use burn::tensor::{Device, Tensor, TensorData};

use super::{MeshNet, NetError};
use meshfed_shared::volume::{keep_largest_component, CropBox, Labels, Volume};

/// brainchop's padding around the brain mask for model5_gw_ae.
pub const DEFAULT_CROP_PADDING: usize = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Crop to the mask's bounding box grown by this many voxels; `None` runs the whole grid.
    pub crop_padding: Option<usize>,
    pub largest_component: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self {
            crop_padding: Some(DEFAULT_CROP_PADDING),
            largest_component: false,
        }
    }
}

/// The normalised, cropped input and where it sits in the volume.
pub fn prepare(volume: &Volume, options: &SegmentOptions) -> (Volume, CropBox) {
    let mut v = volume.clone();
    v.min_max_normalise();
    let crop = options
        .crop_padding
        .and_then(|pad| CropBox::of_mask(&v, 0.0, pad))
        .unwrap_or_else(|| CropBox::all(v.dims));
    (crop.crop(&v), crop)
}

fn input(volume: &Volume, device: &Device) -> Tensor<5> {
    let [x, y, z] = volume.dims;
    Tensor::from_data(
        TensorData::new(volume.data.clone(), [1, 1, x, y, z]),
        device,
    )
}

fn labels_of(dims: [usize; 3], data: TensorData) -> Result<Labels, NetError> {
    let ints = data.convert::<i64>().try_to_vec::<i64>()?;
    Ok(Labels::new(
        dims,
        ints.into_iter().map(|c| c as u8).collect(),
    )?)
}

/// Labels of an already prepared volume: forward and argmax over classes.
pub fn predict(model: &MeshNet, volume: &Volume, device: &Device) -> Result<Labels, NetError> {
    let classes = model.forward(input(volume, device)).argmax(1);
    labels_of(volume.dims, classes.into_data())
}

/// [`predict`] with a non-blocking readback (WebGPU in a browser).
pub async fn predict_async(
    model: &MeshNet,
    volume: &Volume,
    device: &Device,
) -> Result<Labels, NetError> {
    let classes = model.forward(input(volume, device)).argmax(1);
    let data = classes
        .into_data_async()
        .await
        .map_err(|e| NetError::Device(format!("{e:?}")))?;
    labels_of(volume.dims, data)
}

/// The whole pipeline on a raw volume; labels on the volume's grid.
pub fn segment(
    model: &MeshNet,
    volume: &Volume,
    options: &SegmentOptions,
    device: &Device,
) -> Result<Labels, NetError> {
    let (cropped, crop) = prepare(volume, options);
    let inside = predict(model, &cropped, device)?;
    Ok(finish(&inside, crop, volume.dims, options))
}

/// Places cropped labels back on the full grid and applies the component filter.
pub fn finish(
    inside: &Labels,
    crop: CropBox,
    dims: [usize; 3],
    options: &SegmentOptions,
) -> Labels {
    let mut labels = crop.paste(inside, dims);
    if options.largest_component {
        keep_largest_component(&mut labels);
    }
    labels
}
