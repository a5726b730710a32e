//! 3-D volumes and label maps as MeshNet sees them, without I/O or burn: axis order, intensity
//! normalisation, brainchop's crop box, connected components, Dice, random patches and a
//! synthetic phantom.
//!
//! Layout: a [`Volume`] of dims `[x, y, z]` (the NIfTI i, j, k axes) stores voxel `(x, y, z)`
//! at `(x·Y + y)·Z + z` — row-major with x slowest, the order of brainchop's TF.js tensor
//! `[1, i, j, k, 1]` and of a burn tensor `[1, 1, X, Y, Z]`. NIfTI files store x fastest;
//! [`Volume::from_nifti_order`] and [`Volume::to_nifti_order`] convert.

mod components;
mod crop;
mod dice;
pub mod nifti;
mod patch;
mod phantom;
mod rng;
pub mod slice;

pub use components::keep_largest_component;
pub use crop::CropBox;
pub use dice::{dice_per_class, mean_dice};
pub use patch::{labelled_voxel, patch_around, patch_origins, same_grid, Patch};
pub use phantom::phantom;
pub use rng::Rng;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum VolumeError {
    #[error("a volume needs three dimensions of at least 1 voxel, got {0:?}")]
    Dims(Vec<usize>),
    #[error("dims {dims:?} need {expected} voxels, got {found}")]
    Length {
        dims: [usize; 3],
        expected: usize,
        found: usize,
    },
    #[error("labels are on a {labels:?} grid, the volume on {volume:?}")]
    Grid {
        volume: [usize; 3],
        labels: [usize; 3],
    },
}

/// A 3-D grid of values of type `T` (f32 intensities, u8 labels), x slowest.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid<T> {
    pub dims: [usize; 3],
    pub data: Vec<T>,
}

pub type Volume = Grid<f32>;
pub type Labels = Grid<u8>;

impl<T: Copy> Grid<T> {
    pub fn new(dims: [usize; 3], data: Vec<T>) -> Result<Self, VolumeError> {
        if dims.contains(&0) {
            return Err(VolumeError::Dims(dims.to_vec()));
        }
        let expected = dims.iter().product();
        if data.len() != expected {
            return Err(VolumeError::Length {
                dims,
                expected,
                found: data.len(),
            });
        }
        Ok(Self { dims, data })
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        (x * self.dims[1] + y) * self.dims[2] + z
    }

    pub fn at(&self, x: usize, y: usize, z: usize) -> T {
        self.data[self.index(x, y, z)]
    }

    /// From NIfTI's storage order (x fastest), dims `[x, y, z]`.
    pub fn from_nifti_order(dims: [usize; 3], nifti: &[T]) -> Result<Self, VolumeError> {
        let [nx, ny, nz] = dims;
        if dims.contains(&0) || nifti.len() != nx * ny * nz {
            return Err(VolumeError::Length {
                dims,
                expected: nx * ny * nz,
                found: nifti.len(),
            });
        }
        let mut data = Vec::with_capacity(nifti.len());
        for x in 0..nx {
            for y in 0..ny {
                for z in 0..nz {
                    data.push(nifti[x + nx * (y + ny * z)]);
                }
            }
        }
        Ok(Self { dims, data })
    }

    /// The grid mirrored along x (left-right in brainchop's conformed volumes): x is the
    /// slowest axis, so this reverses the order of the x-slabs.
    pub fn mirror_x(&self) -> Self {
        let slab = self.dims[1] * self.dims[2];
        let data = self
            .data
            .chunks(slab.max(1))
            .rev()
            .flatten()
            .copied()
            .collect();
        Self {
            dims: self.dims,
            data,
        }
    }

    /// Back to NIfTI's storage order (x fastest).
    pub fn to_nifti_order(&self) -> Vec<T> {
        let [nx, ny, nz] = self.dims;
        let mut out = Vec::with_capacity(self.data.len());
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    out.push(self.at(x, y, z));
                }
            }
        }
        out
    }
}

impl Volume {
    /// brainchop's normalisation: min-max over the whole volume to [0, 1] (a constant volume
    /// becomes all zeros).
    pub fn min_max_normalise(&mut self) {
        let (lo, hi) = self
            .data
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let range = hi - lo;
        for v in &mut self.data {
            *v = if range > 0.0 { (*v - lo) / range } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_x_reverses_x_only_and_twice_is_identity() {
        let dims = [3, 2, 4];
        let v = Volume::new(dims, (0..24).map(|i| i as f32).collect()).unwrap();
        let m = v.mirror_x();
        for x in 0..3 {
            for y in 0..2 {
                for z in 0..4 {
                    assert_eq!(m.at(x, y, z), v.at(2 - x, y, z));
                }
            }
        }
        assert_eq!(m.mirror_x(), v);
    }

    #[test]
    fn nifti_order_round_trips_and_puts_x_slowest() {
        // NIfTI order: x fastest. Value = x + 10y + 100z.
        let dims = [2, 3, 4];
        let nifti: Vec<f32> = (0..24)
            .map(|i| (i % 2 + 10 * ((i / 2) % 3) + 100 * (i / 6)) as f32)
            .collect();
        let v = Volume::from_nifti_order(dims, &nifti).unwrap();
        assert_eq!(v.at(1, 2, 3), 1.0 + 20.0 + 300.0);
        assert_eq!(v.data[1], 100.0, "z is the fastest axis in memory");
        assert_eq!(v.to_nifti_order(), nifti);
        assert!(Volume::from_nifti_order(dims, &nifti[..5]).is_err());
        assert!(Labels::new([0, 1, 1], vec![]).is_err());
    }

    #[test]
    fn min_max_normalises_to_unit_range() {
        let mut v = Volume::new([1, 1, 4], vec![10.0, 20.0, 30.0, 50.0]).unwrap();
        v.min_max_normalise();
        assert_eq!(v.data, vec![0.0, 0.25, 0.5, 1.0]);
        let mut flat = Volume::new([1, 1, 2], vec![3.0, 3.0]).unwrap();
        flat.min_max_normalise();
        assert_eq!(flat.data, vec![0.0, 0.0]);
    }
}
