//! NIfTI-1 volumes and label maps (.nii and .nii.gz) through the `nifti` crate. The header
//! of the input travels to the output, so labels land on the input's grid and orientation.

use std::path::Path;

use meshfed_shared::volume::{Labels, Volume};
use ndarray::{Array3, Axis};
use nifti::writer::WriterOptions;
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};

use crate::error::{CliError, CliResult};

/// A volume read from disk with its header.
pub struct Scan {
    pub volume: Volume,
    pub header: NiftiHeader,
}

fn nifti_err(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Nifti {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Reads a 3-D volume (a 4-D file with one frame is accepted) as f32, scaling applied.
pub fn read_volume(path: &Path) -> CliResult<Scan> {
    if !path.exists() {
        return Err(CliError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let object = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| nifti_err(path, e))?;
    let header = object.header().clone();
    let mut array = object
        .into_volume()
        .into_ndarray::<f32>()
        .map_err(|e| nifti_err(path, e))?;
    while array.ndim() > 3 && array.shape()[array.ndim() - 1] == 1 {
        let last = Axis(array.ndim() - 1);
        array = array.index_axis_move(last, 0);
    }
    if array.ndim() != 3 {
        return Err(CliError::Shape {
            path: path.to_path_buf(),
            reason: format!(
                "MeshNet segments 3-D volumes; this one has dims {:?}",
                array.shape()
            ),
        });
    }
    let dims = [array.shape()[0], array.shape()[1], array.shape()[2]];
    // ndarray iterates in logical order, x slowest: Meshfed's layout.
    let volume = Volume::new(dims, array.iter().copied().collect())?;
    Ok(Scan { volume, header })
}

/// Reads a label map (any integer or float type, values 0..=255).
pub fn read_labels(path: &Path) -> CliResult<Labels> {
    let scan = read_volume(path)?;
    let mut data = Vec::with_capacity(scan.volume.len());
    for &v in &scan.volume.data {
        if !(0.0..=255.0).contains(&v) || v.fract() != 0.0 {
            return Err(CliError::Shape {
                path: path.to_path_buf(),
                reason: format!("a label map holds whole numbers 0..=255, found {v}"),
            });
        }
        data.push(v as u8);
    }
    Ok(Labels::new(scan.volume.dims, data)?)
}

/// Writes labels as uint8 with `reference`'s geometry (gzip when the name ends in .gz).
pub fn write_labels(path: &Path, labels: &Labels, reference: &NiftiHeader) -> CliResult<()> {
    let array =
        Array3::from_shape_vec(labels.dims, labels.data.clone()).map_err(|e| nifti_err(path, e))?;
    let mut header = reference.clone();
    header.cal_min = 0.0;
    header.cal_max = labels.data.iter().copied().max().unwrap_or(0) as f32;
    header.descrip = b"Meshfed MeshNet labels".to_vec();
    let tmp = tmp_path(path);
    WriterOptions::new(&tmp)
        .reference_header(&header)
        .write_nifti(&array)
        .map_err(|e| nifti_err(path, e))?;
    // Written beside the target, then moved: a reader never sees half a file.
    std::fs::rename(&tmp, path).map_err(crate::error::io(path))
}

/// A fresh 1 mm isotropic NIfTI header (for volumes Meshfed makes, such as phantoms).
pub fn plain_header() -> NiftiHeader {
    let mut h = NiftiHeader {
        pixdim: [1.0; 8],
        sform_code: 1,
        qform_code: 0,
        ..NiftiHeader::default()
    };
    h.srow_x = [1.0, 0.0, 0.0, 0.0];
    h.srow_y = [0.0, 1.0, 0.0, 0.0];
    h.srow_z = [0.0, 0.0, 1.0, 0.0];
    h
}

/// Writes a float32 volume with `reference`'s geometry.
pub fn write_volume(path: &Path, volume: &Volume, reference: &NiftiHeader) -> CliResult<()> {
    let array =
        Array3::from_shape_vec(volume.dims, volume.data.clone()).map_err(|e| nifti_err(path, e))?;
    let tmp = tmp_path(path);
    WriterOptions::new(&tmp)
        .reference_header(reference)
        .write_nifti(&array)
        .map_err(|e| nifti_err(path, e))?;
    std::fs::rename(&tmp, path).map_err(crate::error::io(path))
}

/// A sibling path keeping the `.nii`/`.nii.gz` ending the writer keys compression on.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".partial-{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The browser's reader (shared, bytes in) and the `nifti` crate agree on a real scan.
    #[test]
    fn shared_nifti_reader_matches_the_nifti_crate_on_the_sample_t1() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/brainchop/t1_crop.nii.gz");
        let ours =
            meshfed_shared::volume::nifti::read_volume(&std::fs::read(&path).unwrap()).unwrap();
        let theirs = read_volume(&path).unwrap().volume;
        assert_eq!(ours.dims, theirs.dims);
        assert!(ours.data == theirs.data, "voxel values differ");
    }
}
