use super::*;
use meshfed_shared::volume::Rng;

fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect()
}

/// The textbook definition, one output voxel at a time.
fn naive(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let [dd, hh, ww] = s.dims;
    let d = s.dilation as isize;
    let mut out = vec![0f32; s.output_len()];
    for b in 0..s.batch {
        for co in 0..s.cout {
            for z in 0..dd {
                for y in 0..hh {
                    for xx in 0..ww {
                        let mut v = bias.map_or(0.0, |b| b[co]);
                        for ci in 0..s.cin {
                            for k in 0..27 {
                                let (kz, ky, kx) = (k / 9, k / 3 % 3, k % 3);
                                let iz = z as isize + (kz as isize - 1) * d;
                                let iy = y as isize + (ky as isize - 1) * d;
                                let ix = xx as isize + (kx as isize - 1) * d;
                                let inside = (0..dd as isize).contains(&iz)
                                    && (0..hh as isize).contains(&iy)
                                    && (0..ww as isize).contains(&ix);
                                if inside {
                                    let xi = ((b * s.cin + ci) * dd + iz as usize) * hh * ww
                                        + iy as usize * ww
                                        + ix as usize;
                                    v += w[(co * s.cin + ci) * 27 + k] * x[xi];
                                }
                            }
                        }
                        out[((b * s.cout + co) * dd + z) * hh * ww + y * ww + xx] = v;
                    }
                }
            }
        }
    }
    out
}

fn close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

fn inner(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Odd, non-cubic grids; a dilation larger than a side (every tap but the centre falls
/// outside along it) and one beyond every side; widths below and above the 8-lane dot product;
/// output channels that fill no register block exactly (13 = 6 + 6 + 1).
const SHAPES: [ConvShape; 6] = [
    ConvShape {
        batch: 2,
        cin: 3,
        cout: 4,
        dims: [5, 6, 7],
        dilation: 1,
    },
    ConvShape {
        batch: 1,
        cin: 5,
        cout: 5,
        dims: [9, 4, 19],
        dilation: 2,
    },
    ConvShape {
        batch: 1,
        cin: 1,
        cout: 5,
        dims: [6, 7, 11],
        dilation: 4,
    },
    ConvShape {
        batch: 3,
        cin: 2,
        cout: 3,
        dims: [4, 12, 9],
        dilation: 8,
    },
    ConvShape {
        batch: 1,
        cin: 2,
        cout: 2,
        dims: [3, 5, 6],
        dilation: 16,
    },
    ConvShape {
        batch: 2,
        cin: 3,
        cout: 13,
        dims: [4, 5, 10],
        dilation: 1,
    },
];

/// Both forward implementations, whichever this CPU would pick.
#[test]
fn both_forward_kernels_match_the_definition() {
    let mut rng = Rng::new(5);
    for s in &SHAPES {
        let x = random(s.input_len(), &mut rng);
        let w = random(s.weight_len(), &mut rng);
        let bias = random(s.cout, &mut rng);
        let want = naive(&x, &w, Some(&bias), s);
        close(&super::rows::forward(&x, &w, Some(&bias), s), &want, 1e-5);
        #[cfg(target_arch = "x86_64")]
        if super::blocked::available() {
            close(
                &super::blocked::forward(&x, &w, Some(&bias), s),
                &want,
                1e-5,
            );
        }
    }
}

#[test]
fn forward_matches_the_definition() {
    let mut rng = Rng::new(7);
    for s in &SHAPES {
        let x = random(s.input_len(), &mut rng);
        let w = random(s.weight_len(), &mut rng);
        let bias = random(s.cout, &mut rng);
        close(
            &forward(&x, &w, Some(&bias), s),
            &naive(&x, &w, Some(&bias), s),
            1e-5,
        );
        close(&forward(&x, &w, None, s), &naive(&x, &w, None, s), 1e-5);
    }
}

/// The gradients are the adjoints of the (linear) convolution:
/// ⟨conv(x, w), g⟩ = ⟨x, input_grad(g, w)⟩ = ⟨w, weight_grad(x, g)⟩.
#[test]
fn gradients_are_the_adjoints_of_the_convolution() {
    let mut rng = Rng::new(11);
    for s in &SHAPES {
        let x = random(s.input_len(), &mut rng);
        let w = random(s.weight_len(), &mut rng);
        let g = random(s.output_len(), &mut rng);
        let y = naive(&x, &w, None, s);
        let lhs = inner(&y, &g);
        let via_x = inner(&x, &input_grad(&g, &w, s));
        let via_w = inner(&w, &weight_grad(&x, &g, s));
        assert!(
            (lhs - via_x).abs() < 1e-3 * (1.0 + lhs.abs()),
            "{s:?}: {lhs} vs {via_x}"
        );
        assert!(
            (lhs - via_w).abs() < 1e-3 * (1.0 + lhs.abs()),
            "{s:?}: {lhs} vs {via_w}"
        );
    }
}

/// Each weight's gradient on its own: one weight set to 1 makes the convolution a shift, so
/// its gradient is the inner product of `g` with the shifted input.
#[test]
fn each_weight_gradient_is_its_shifted_inner_product() {
    let s = SHAPES[1];
    let mut rng = Rng::new(3);
    let x = random(s.input_len(), &mut rng);
    let g = random(s.output_len(), &mut rng);
    let gw = weight_grad(&x, &g, &s);
    for i in [0, 13, 26, 27 * 7 + 4, s.weight_len() - 1] {
        let mut w = vec![0f32; s.weight_len()];
        w[i] = 1.0;
        let expected = inner(&naive(&x, &w, None, &s), &g);
        assert!(
            (gw[i] as f64 - expected).abs() < 1e-3 * (1.0 + expected.abs()),
            "weight {i}"
        );
    }
}

#[test]
#[should_panic(expected = "conv weight length")]
fn a_weight_of_the_wrong_length_is_refused() {
    let s = SHAPES[0];
    forward(&vec![0.0; s.input_len()], &[0.0; 3], None, &s);
}
