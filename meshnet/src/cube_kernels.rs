//! MeshNet's dilated 3×3×3 convolution as CubeCL kernels (the device side; launched by
//! [`super::cube_conv`]): stride 1, padding = dilation `d`, one group, f32, NCDHW. An offset
//! tap reads `x[p + (k − 1)·d]`; the index `p + k·d` is checked against `d..n + d` so that no
//! signed arithmetic is needed.

use burn_cubecl::cubecl::{self, prelude::*};

/// `out[b, co] = bias[co] + Σ_ci Σ_k w[co, ci, k] · x[b, ci, p + (k − 1)·d]` (zero outside).
/// Each thread computes `block` output channels (a divisor of `cout`) at one position, so
/// that every input value it loads serves `block` sums.
#[cube(launch_unchecked)]
pub(super) fn conv_kernel(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    out: &mut [f32],
    cin: usize,
    cout: usize,
    depth: usize,
    height: usize,
    width: usize,
    d: usize,
    #[comptime] block: usize,
    #[comptime] with_bias: bool,
) {
    let pos = ABSOLUTE_POS;
    let volume = depth * height * width;
    let groups = cout / block;
    if pos >= out.len() / block {
        terminate!();
    }
    let p = pos % volume;
    let xi = p % width;
    let yi = (p / width) % height;
    let zi = p / (width * height);
    let co0 = ((pos / volume) % groups) * block;
    let b = pos / (volume * groups);
    let mut acc = Array::<f32>::new(block);
    #[unroll]
    for j in 0..block {
        acc[j] = 0.0;
        if with_bias {
            acc[j] = bias[co0 + j];
        }
    }
    for ci in 0..cin {
        let x_base = (b * cin + ci) * volume;
        #[unroll]
        for kz in 0..3usize {
            let zz = zi + kz * d;
            if zz >= d && zz < depth + d {
                #[unroll]
                for ky in 0..3usize {
                    let yy = yi + ky * d;
                    if yy >= d && yy < height + d {
                        let row = x_base + ((zz - d) * height + (yy - d)) * width;
                        #[unroll]
                        for kx in 0..3usize {
                            let xx = xi + kx * d;
                            if xx >= d && xx < width + d {
                                let v = x[row + xx - d];
                                let tap = (kz * 3 + ky) * 3 + kx;
                                #[unroll]
                                for j in 0..block {
                                    acc[j] += v * w[((co0 + j) * cin + ci) * 27 + tap];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    #[unroll]
    for j in 0..block {
        out[(b * cout + co0 + j) * volume + p] = acc[j];
    }
}

/// The input gradient's weights: `m[ci, co, 26 − k] = w[co, ci, k]` (channels swapped, taps
/// mirrored), so that the input gradient is [`conv_kernel`] on the output's gradient.
#[cube(launch_unchecked)]
pub(super) fn mirror_kernel(w: &[f32], m: &mut [f32], cin: usize, cout: usize) {
    let i = ABSOLUTE_POS;
    if i >= m.len() {
        terminate!();
    }
    let k = i % 27;
    let co = (i / 27) % cout;
    let ci = i / (27 * cout);
    m[i] = w[(co * cin + ci) * 27 + 26 - k];
}

/// Partial weight gradients: thread `((chunk · cout + co) · cin + ci) · 9 + kz · 3 + ky` sums
/// `grad[b, co, p] · x[b, ci, p + (k − 1)·d]` over its chunk's rows for `kx = 0, 1, 2` and
/// writes them to `partial[(co, ci, kz, ky, kx), chunk]`. A chunk is `rows` rows of one depth
/// slice of one batch item; each slice has `blocks` chunks.
#[cube(launch_unchecked)]
pub(super) fn weight_grad_partial_kernel(
    x: &[f32],
    grad: &[f32],
    partial: &mut [f32],
    cin: usize,
    cout: usize,
    depth: usize,
    height: usize,
    width: usize,
    d: usize,
    rows: usize,
    blocks: usize,
    chunks: usize,
) {
    let pos = ABSOLUTE_POS;
    if pos >= chunks * cout * cin * 9 {
        terminate!();
    }
    let ky = pos % 3;
    let kz = (pos / 3) % 3;
    let ci = (pos / 9) % cin;
    let co = (pos / (9 * cin)) % cout;
    let chunk = pos / (9 * cin * cout);
    let yb = chunk % blocks;
    let zi = (chunk / blocks) % depth;
    let b = chunk / (blocks * depth);
    let volume = depth * height * width;
    let mut s0 = 0.0f32;
    let mut s1 = 0.0f32;
    let mut s2 = 0.0f32;
    let zz = zi + kz * d;
    if zz >= d && zz < depth + d {
        let mut y_end = yb * rows + rows;
        if y_end > height {
            y_end = height;
        }
        for yi in yb * rows..y_end {
            let yy = yi + ky * d;
            if yy >= d && yy < height + d {
                let g_row = ((b * cout + co) * depth + zi) * height * width + yi * width;
                let x_row = (b * cin + ci) * volume + ((zz - d) * height + (yy - d)) * width;
                for xi in 0..width {
                    let g = grad[g_row + xi];
                    if xi >= d {
                        s0 += g * x[x_row + xi - d];
                    }
                    s1 += g * x[x_row + xi];
                    if xi + d < width {
                        s2 += g * x[x_row + xi + d];
                    }
                }
            }
        }
    }
    let w_index = ((co * cin + ci) * 9 + kz * 3 + ky) * 3;
    partial[w_index * chunks + chunk] = s0;
    partial[(w_index + 1) * chunks + chunk] = s1;
    partial[(w_index + 2) * chunks + chunk] = s2;
}

/// `out[i] = Σ_c partial[i · chunks + c]`.
#[cube(launch_unchecked)]
pub(super) fn sum_chunks_kernel(partial: &[f32], out: &mut [f32], chunks: usize) {
    let pos = ABSOLUTE_POS;
    if pos >= out.len() {
        terminate!();
    }
    let mut sum = 0.0f32;
    for c in 0..chunks {
        sum += partial[pos * chunks + c];
    }
    out[pos] = sum;
}
