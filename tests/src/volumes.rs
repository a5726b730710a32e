//! Small NIfTI files for the app's training tests: a cube cut from the sample T1 and a label
//! map made from its intensities (three classes), written as plain `.nii`.

use std::path::{Path, PathBuf};

use meshfed_shared::volume::{nifti, Grid, Labels, Volume};

/// Writes a minimal NIfTI-1 file: 1 mm voxels, `datatype` (2 = uint8, 16 = float32).
fn write(path: &Path, dims: [usize; 3], datatype: i16, voxels: &[u8]) {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let d: [i16; 4] = [3, dims[0] as i16, dims[1] as i16, dims[2] as i16];
    for (i, v) in d.iter().enumerate() {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&v.to_le_bytes());
    }
    h[70..72].copy_from_slice(&datatype.to_le_bytes());
    let bits: i16 = if datatype == 2 { 8 } else { 32 };
    h[72..74].copy_from_slice(&bits.to_le_bytes());
    for i in 0..4 {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&1f32.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes());
    h[112..116].copy_from_slice(&1f32.to_le_bytes());
    h[344..348].copy_from_slice(b"n+1\0");
    h.extend_from_slice(voxels);
    std::fs::write(path, h).expect("can write a test volume");
}

/// A `size`³ cube from the middle of ../shared/data/brainchop/t1_crop.nii.gz and labels
/// (0 = dark, 1 = middle, 2 = bright thirds of the cube's intensities), as two files under
/// target/e2e. Returns their absolute paths.
pub fn small_t1_and_labels(size: usize) -> (PathBuf, PathBuf) {
    let root = xtask::paths::repo_root();
    let t1 =
        std::fs::read(root.join("shared/data/brainchop/t1_crop.nii.gz")).expect("the sample T1");
    let full = nifti::read_volume(&t1).expect("the sample T1 reads");
    let origin = full.dims.map(|d| d / 2 - size / 2);
    let mut data = Vec::with_capacity(size * size * size);
    for x in 0..size {
        for y in 0..size {
            for z in 0..size {
                data.push(full.at(origin[0] + x, origin[1] + y, origin[2] + z));
            }
        }
    }
    let cube = Volume::new([size; 3], data).expect("a cube");
    let mut sorted = cube.data.clone();
    sorted.sort_by(f32::total_cmp);
    let (a, b) = (sorted[sorted.len() / 3], sorted[2 * sorted.len() / 3]);
    let labels: Labels = Grid::new(
        cube.dims,
        cube.data
            .iter()
            .map(|&v| (v >= a) as u8 + (v >= b) as u8)
            .collect(),
    )
    .expect("labels");
    let dir = root.join("target/e2e");
    std::fs::create_dir_all(&dir).expect("target/e2e");
    let (vp, lp) = (dir.join("t1_cube.nii"), dir.join("t1_cube_labels.nii"));
    let floats: Vec<u8> = cube
        .to_nifti_order()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write(&vp, cube.dims, 16, &floats);
    write(&lp, labels.dims, 2, &labels.to_nifti_order());
    (vp, lp)
}
