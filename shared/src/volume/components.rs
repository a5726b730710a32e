//! brainchop's optional clean-up: keep only the largest 26-connected component of labelled
//! (non-zero) voxels.

use super::Labels;

/// Zeroes every labelled voxel outside the largest 26-connected component of non-zero
/// labels. Returns how many voxels it cleared.
pub fn keep_largest_component(labels: &mut Labels) -> usize {
    let [nx, ny, nz] = labels.dims;
    let mut component = vec![0u32; labels.len()];
    let mut sizes = vec![0usize]; // component ids start at 1
    let mut stack = vec![];
    for start in 0..labels.len() {
        if labels.data[start] == 0 || component[start] != 0 {
            continue;
        }
        let id = sizes.len() as u32;
        let mut size = 0;
        component[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y, z) = (i / (ny * nz), (i / nz) % ny, i % nz);
            for dx in -1i64..=1 {
                for dy in -1i64..=1 {
                    for dz in -1i64..=1 {
                        let (a, b, c) = (x as i64 + dx, y as i64 + dy, z as i64 + dz);
                        if a < 0
                            || b < 0
                            || c < 0
                            || a >= nx as i64
                            || b >= ny as i64
                            || c >= nz as i64
                        {
                            continue;
                        }
                        let j = (a as usize * ny + b as usize) * nz + c as usize;
                        if labels.data[j] != 0 && component[j] == 0 {
                            component[j] = id;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        sizes.push(size);
    }
    let Some(largest) = (1..sizes.len()).max_by_key(|&id| (sizes[id], std::cmp::Reverse(id)))
    else {
        return 0;
    };
    let mut cleared = 0;
    for (l, &c) in labels.data.iter_mut().zip(&component) {
        if c != 0 && c as usize != largest {
            *l = 0;
            cleared += 1;
        }
    }
    cleared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_largest_diagonally_connected_blob() {
        let mut l = Labels::new([5, 5, 5], vec![0; 125]).unwrap();
        // A diagonal chain of 3 (26-connected only) with two labels, and a lone voxel.
        for (k, v) in [(0usize, 1u8), (1, 2), (2, 1)] {
            let i = l.index(k, k, k);
            l.data[i] = v;
        }
        let lone = l.index(4, 0, 4);
        l.data[lone] = 2;
        assert_eq!(keep_largest_component(&mut l), 1);
        assert_eq!(l.data[lone], 0);
        assert_eq!(
            l.at(1, 1, 1),
            2,
            "labels inside the kept component are unchanged"
        );
        assert_eq!(l.data.iter().filter(|&&v| v != 0).count(), 3);
        let mut empty = Labels::new([2, 2, 2], vec![0; 8]).unwrap();
        assert_eq!(keep_largest_component(&mut empty), 0);
    }
}
