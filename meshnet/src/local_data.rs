//! A participant's own data, ready to train on: a T1 volume and its label map read from
//! NIfTI bytes, normalised and cropped as segmentation crops (brain mask + padding).

use super::{prepare, SegmentOptions};
use meshfed_shared::volume::{nifti, same_grid, CropBox, Labels, Volume};

/// The volume and labels as training and segmentation see them.
#[derive(Debug, Clone)]
pub struct LocalData {
    /// Normalised and cropped.
    pub volume: Volume,
    /// Cropped like `volume`.
    pub labels: Labels,
    /// The labels on the volume's full grid (Dice of a whole segmentation).
    pub full_labels: Labels,
    pub crop: CropBox,
    /// Highest label + 1.
    pub classes: usize,
    /// Labelled (non-background) voxels: the `num_examples` a round upload reports.
    pub examples: u64,
}

impl LocalData {
    /// Reads both files; errors say which file and why, in words for the page.
    pub fn from_nifti(volume: &[u8], labels: &[u8]) -> Result<Self, String> {
        let volume = nifti::read_volume(volume).map_err(|e| format!("The volume: {e}"))?;
        let full_labels = nifti::read_labels(labels).map_err(|e| format!("The label map: {e}"))?;
        same_grid(&volume, &full_labels).map_err(|e| e.to_string())?;
        let (cropped, crop) = prepare(&volume, &SegmentOptions::default());
        Ok(Self {
            labels: crop.crop(&full_labels),
            classes: full_labels.data.iter().copied().max().unwrap_or(0) as usize + 1,
            examples: full_labels.data.iter().filter(|&&l| l != 0).count() as u64,
            volume: cropped,
            full_labels,
            crop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An uncompressed NIfTI-1 file of uint8 voxels (NIfTI order).
    fn nii(dims: [usize; 3], voxels: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        h[0..4].copy_from_slice(&348i32.to_le_bytes());
        for (i, d) in [3, dims[0], dims[1], dims[2]].iter().enumerate() {
            h[40 + 2 * i..42 + 2 * i].copy_from_slice(&(*d as i16).to_le_bytes());
        }
        h[70..72].copy_from_slice(&2i16.to_le_bytes());
        h[108..112].copy_from_slice(&352f32.to_le_bytes());
        h[344..348].copy_from_slice(b"n+1\0");
        h.extend_from_slice(voxels);
        h
    }

    #[test]
    fn reads_counts_classes_and_examples_and_crops_both_alike() {
        let dims = [64, 64, 64];
        // A bright 4³ cube in the middle; labels 2 inside it.
        let mut v = vec![0u8; 64 * 64 * 64];
        let mut l = vec![0u8; 64 * 64 * 64];
        for x in 30..34 {
            for y in 30..34 {
                for z in 30..34 {
                    v[x + 64 * (y + 64 * z)] = 200;
                    l[x + 64 * (y + 64 * z)] = 2;
                }
            }
        }
        let data = LocalData::from_nifti(&nii(dims, &v), &nii(dims, &l)).unwrap();
        assert_eq!(data.classes, 3);
        assert_eq!(data.examples, 64);
        assert_eq!(data.volume.dims, data.labels.dims);
        assert_eq!(data.full_labels.dims, dims);
        assert!(data.volume.dims[0] < 64, "cropped to the mask plus padding");
    }

    #[test]
    fn says_which_file_is_wrong() {
        let good = nii([2, 2, 2], &[0; 8]);
        let other = nii([2, 2, 3], &[0; 12]);
        let err = LocalData::from_nifti(b"not a file", &good).unwrap_err();
        assert!(err.starts_with("The volume: not a NIfTI-1 file"), "{err}");
        let err = LocalData::from_nifti(&good, &good[..100]).unwrap_err();
        assert!(err.starts_with("The label map:"), "{err}");
        let err = LocalData::from_nifti(&good, &other).unwrap_err();
        assert!(err.contains("[2, 2, 3]"), "{err}");
    }
}
