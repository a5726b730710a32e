//! Random training patches: cubes of `size` voxels (clamped to the grid), cut from a volume
//! and its labels at the same place.

use super::{Grid, Labels, Rng, Volume, VolumeError};

/// One patch: where it starts and its size on each axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    pub origin: [usize; 3],
    pub dims: [usize; 3],
}

impl Patch {
    pub fn cut<T: Copy>(&self, grid: &Grid<T>) -> Grid<T> {
        let mut data = Vec::with_capacity(self.dims.iter().product());
        let [ox, oy, oz] = self.origin;
        for x in ox..ox + self.dims[0] {
            for y in oy..oy + self.dims[1] {
                let start = grid.index(x, y, oz);
                data.extend_from_slice(&grid.data[start..start + self.dims[2]]);
            }
        }
        Grid {
            dims: self.dims,
            data,
        }
    }

    /// The patch of a volume and of its labels.
    pub fn cut_pair(&self, volume: &Volume, labels: &Labels) -> (Volume, Labels) {
        (self.cut(volume), self.cut(labels))
    }
}

/// `count` patches of `size`³ (clamped to `dims`) at uniformly random origins where they fit.
pub fn patch_origins(rng: &mut Rng, dims: [usize; 3], size: usize, count: usize) -> Vec<Patch> {
    let pd = dims.map(|d| size.min(d));
    (0..count)
        .map(|_| Patch {
            origin: [0, 1, 2].map(|a| rng.below(dims[a] - pd[a] + 1)),
            dims: pd,
        })
        .collect()
}

/// Checks that labels lie on the volume's grid.
pub fn same_grid(volume: &Volume, labels: &Labels) -> Result<(), VolumeError> {
    if volume.dims == labels.dims {
        Ok(())
    } else {
        Err(VolumeError::Grid {
            volume: volume.dims,
            labels: labels.dims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_fit_and_cut_the_same_place() {
        let dims = [6, 7, 8];
        let v = Volume::new(dims, (0..336).map(|i| i as f32).collect()).unwrap();
        let l = Labels::new(dims, (0..336).map(|i| (i % 251) as u8).collect()).unwrap();
        let mut rng = Rng::new(1);
        let patches = patch_origins(&mut rng, dims, 4, 50);
        assert!(patches.iter().any(|p| p.origin != patches[0].origin));
        for p in &patches {
            assert!((0..3).all(|a| p.origin[a] + 4 <= dims[a]));
            let (pv, pl) = p.cut_pair(&v, &l);
            assert_eq!(pv.dims, [4, 4, 4]);
            let [x, y, z] = p.origin;
            assert_eq!(pv.at(1, 2, 3), v.at(x + 1, y + 2, z + 3));
            assert_eq!(pl.at(3, 0, 1), l.at(x + 3, y, z + 1));
        }
        let big = patch_origins(&mut rng, dims, 64, 1)[0];
        assert_eq!((big.origin, big.dims), ([0; 3], dims));
        assert!(same_grid(&v, &l).is_ok());
        assert!(same_grid(&v, &Labels::new([1, 1, 1], vec![0]).unwrap()).is_err());
    }
}
