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

/// The patch of `size`³ (clamped to `dims`) centred on `centre`, moved inside the grid.
pub fn patch_around(centre: [usize; 3], dims: [usize; 3], size: usize) -> Patch {
    let pd = dims.map(|d| size.min(d));
    Patch {
        origin: [0, 1, 2].map(|a| centre[a].saturating_sub(pd[a] / 2).min(dims[a] - pd[a])),
        dims: pd,
    }
}

/// A uniformly random voxel with a non-zero label, found by rejection in at most `tries`
/// draws (`None` when the labels are (nearly) all background).
pub fn labelled_voxel(rng: &mut Rng, labels: &Labels, tries: usize) -> Option<[usize; 3]> {
    let [_, ny, nz] = labels.dims;
    (0..tries).find_map(|_| {
        let i = rng.below(labels.data.len().max(1));
        (labels.data.get(i).copied().unwrap_or(0) != 0)
            .then(|| [i / (ny * nz), i / nz % ny, i % nz])
    })
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

    #[test]
    fn patches_around_a_voxel_contain_it_and_stay_inside() {
        let dims = [10, 12, 14];
        for centre in [[0, 0, 0], [9, 11, 13], [5, 6, 7], [1, 11, 2]] {
            let p = patch_around(centre, dims, 6);
            assert_eq!(p.dims, [6, 6, 6]);
            for a in 0..3 {
                assert!(
                    p.origin[a] <= centre[a] && centre[a] < p.origin[a] + 6,
                    "{p:?} {centre:?}"
                );
                assert!(p.origin[a] + 6 <= dims[a]);
            }
        }
        assert_eq!(patch_around([5, 5, 5], [4, 20, 20], 8).dims, [4, 8, 8]);
    }

    #[test]
    fn labelled_voxels_are_found_and_background_gives_none() {
        let dims = [5, 6, 7];
        let mut l = Labels::new(dims, vec![0; 210]).unwrap();
        let mut rng = Rng::new(3);
        assert_eq!(labelled_voxel(&mut rng, &l, 100), None);
        let i = l.index(3, 4, 5);
        l.data[i] = 2;
        assert_eq!(labelled_voxel(&mut rng, &l, 10_000), Some([3, 4, 5]));
    }
}
