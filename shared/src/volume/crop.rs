//! brainchop's crop: the bounding box of the brain mask (voxels above zero after
//! normalisation), padded and clipped to the volume; segment inside, zeros outside.

use super::{Grid, Labels, Volume};

/// A half-open box `lo..hi` on each axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    pub lo: [usize; 3],
    pub hi: [usize; 3],
}

impl CropBox {
    /// The whole grid.
    pub fn all(dims: [usize; 3]) -> Self {
        Self {
            lo: [0; 3],
            hi: dims,
        }
    }

    /// The box of voxels with a value above `threshold`, grown by `pad` on every side and
    /// clipped to the grid; `None` when no voxel is above it.
    pub fn of_mask(volume: &Volume, threshold: f32, pad: usize) -> Option<Self> {
        let mut lo = volume.dims;
        let mut hi = [0usize; 3];
        let [nx, ny, nz] = volume.dims;
        for x in 0..nx {
            for y in 0..ny {
                for z in 0..nz {
                    if volume.at(x, y, z) > threshold {
                        for (a, v) in [x, y, z].into_iter().enumerate() {
                            lo[a] = lo[a].min(v);
                            hi[a] = hi[a].max(v + 1);
                        }
                    }
                }
            }
        }
        if hi == [0; 3] {
            return None;
        }
        Some(Self {
            lo: [0, 1, 2].map(|a| lo[a].saturating_sub(pad)),
            hi: [0, 1, 2].map(|a| (hi[a] + pad).min(volume.dims[a])),
        })
    }

    pub fn dims(&self) -> [usize; 3] {
        [0, 1, 2].map(|a| self.hi[a] - self.lo[a])
    }

    /// The part of `grid` inside the box.
    pub fn crop<T: Copy>(&self, grid: &Grid<T>) -> Grid<T> {
        let dims = self.dims();
        let mut data = Vec::with_capacity(dims.iter().product());
        for x in self.lo[0]..self.hi[0] {
            for y in self.lo[1]..self.hi[1] {
                let start = grid.index(x, y, self.lo[2]);
                data.extend_from_slice(&grid.data[start..start + dims[2]]);
            }
        }
        Grid { dims, data }
    }

    /// `inside` (the box's size) placed on a zero grid of `dims`.
    pub fn paste(&self, inside: &Labels, dims: [usize; 3]) -> Labels {
        let mut out = Grid {
            dims,
            data: vec![0u8; dims.iter().product()],
        };
        let d = self.dims();
        for x in 0..d[0] {
            for y in 0..d[1] {
                let from = inside.index(x, y, 0);
                let to = out.index(x + self.lo[0], y + self.lo[1], self.lo[2]);
                out.data[to..to + d[2]].copy_from_slice(&inside.data[from..from + d[2]]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_of_mask_pads_clips_crops_and_pastes_back() {
        let mut v = Volume::new([10, 10, 10], vec![0.0; 1000]).unwrap();
        let i = v.index(4, 5, 6);
        v.data[i] = 1.0;
        let j = v.index(5, 5, 9);
        v.data[j] = 0.5;
        let b = CropBox::of_mask(&v, 0.0, 2).unwrap();
        assert_eq!(b.lo, [2, 3, 4]);
        assert_eq!(b.hi, [8, 8, 10], "clipped at the far z edge");
        let c = b.crop(&v);
        assert_eq!(c.dims, [6, 5, 6]);
        assert_eq!(c.at(2, 2, 2), 1.0);
        let labels = Labels::new(c.dims, vec![1; c.len()]).unwrap();
        let back = b.paste(&labels, v.dims);
        assert_eq!(back.data.iter().filter(|&&l| l == 1).count(), 6 * 5 * 6);
        assert_eq!(back.at(2, 3, 4), 1);
        assert_eq!(back.at(1, 3, 4), 0);
        assert_eq!(
            CropBox::of_mask(&Volume::new([2, 2, 2], vec![0.0; 8]).unwrap(), 0.0, 1),
            None
        );
    }
}
