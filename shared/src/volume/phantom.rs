//! A synthetic brain phantom for fast tests: an ellipsoidal "brain" whose wavy outer shell is
//! grey matter (label 2) around white matter (label 1), with grey-matter nuclei inside, on a
//! dark background (label 0); intensities like a T1 (WM brighter than GM), a smooth bias
//! field and Gaussian noise.

use super::{Labels, Rng, Volume};

pub fn phantom(dims: [usize; 3], seed: u64) -> (Volume, Labels) {
    let mut rng = Rng::new(seed);
    let centre = dims.map(|d| d as f32 / 2.0 + (rng.unit() - 0.5) * d as f32 * 0.05);
    let radii = dims.map(|d| d as f32 * (0.36 + rng.unit() * 0.06));
    let phase = [rng.unit(), rng.unit(), rng.unit()].map(|p| p * std::f32::consts::TAU);
    let nuclei: Vec<([f32; 3], f32)> = (0..3)
        .map(|_| {
            let c = [0, 1, 2].map(|a| centre[a] + (rng.unit() - 0.5) * radii[a] * 0.6);
            (
                c,
                dims[0].min(dims[1]).min(dims[2]) as f32 * (0.05 + rng.unit() * 0.04),
            )
        })
        .collect();
    let n: usize = dims.iter().product();
    let (mut volume, mut labels) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for x in 0..dims[0] {
        for y in 0..dims[1] {
            for z in 0..dims[2] {
                let p = [x as f32, y as f32, z as f32];
                let u = [0, 1, 2].map(|a| (p[a] - centre[a]) / radii[a]);
                let r = (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt();
                // Gyri: the WM/GM border waves with the direction.
                let wave = 0.08
                    * ((u[0] * 9.0 + phase[0]).sin() * (u[1] * 7.0 + phase[1]).cos()
                        + (u[2] * 8.0 + phase[2]).sin() * 0.5);
                let in_nucleus = nuclei.iter().any(|(c, rad)| {
                    let d2: f32 = (0..3).map(|a| (p[a] - c[a]).powi(2)).sum();
                    d2 < rad * rad
                });
                let label = if r > 1.0 {
                    0
                } else if r > 0.72 + wave || in_nucleus {
                    2
                } else {
                    1
                };
                let base = [0.04, 0.8, 0.5][label as usize];
                let bias = 1.0 + 0.1 * (u[0] + 0.5 * u[1]);
                volume.push((base * bias + 0.04 * rng.normal()).max(0.0));
                labels.push(label);
            }
        }
    }
    (Volume { dims, data: volume }, Labels { dims, data: labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phantom_has_three_tissues_with_t1_contrast_and_is_seeded() {
        let (v, l) = phantom([24, 28, 20], 5);
        let count = |c: u8| l.data.iter().filter(|&&x| x == c).count();
        let mean = |c: u8| {
            let (s, n) = v
                .data
                .iter()
                .zip(&l.data)
                .filter(|(_, &x)| x == c)
                .fold((0.0, 0), |(s, n), (&v, _)| (s + v, n + 1));
            s / n as f32
        };
        assert!(count(0) > 1000 && count(1) > 500 && count(2) > 500);
        assert!(mean(1) > mean(2) + 0.2 && mean(2) > mean(0) + 0.3);
        assert_eq!(phantom([24, 28, 20], 5), (v.clone(), l));
        assert_ne!(phantom([24, 28, 20], 6).0, v);
    }
}
