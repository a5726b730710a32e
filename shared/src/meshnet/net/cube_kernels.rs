//! MeshNet's dilated 3×3×3 convolution as direct CubeCL kernels for burn's cube backend
//! (wgpu natively, WebGPU in the browser): forward, input gradient and weight gradient.
//!
//! burn's generic path on a GPU runs the weight gradient as one convolution whose kernel is
//! the whole output gradient (a few hundred threads each looping over every voxel) and the
//! input gradient as a general transposed convolution. Here every kernel is shaped for
//! MeshNet: stride 1, padding = dilation `d` (the grid is kept), one group, f32, NCDHW.
//!
//! - forward and input gradient (the same convolution with mirrored weights): one thread per
//!   position and block of up to 8 output channels, each input value loaded once per block;
//! - weight gradient: one thread per (chunk of rows, cout, cin, kz, ky) keeps the three `kx`
//!   sums in registers over its rows and writes partial sums, which a second kernel adds up
//!   per weight. Memory is `weights × chunks` (see [`rows_per_chunk`]).
//!
//! An offset tap reads `x[p + (k - 1)·d]`; the index `p + k·d` is checked against `d..n + d`
//! so that no signed arithmetic is needed.

use burn_cubecl::cubecl::{self, calculate_cube_count_elemwise, prelude::*};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::{empty_device_contiguous_dtype, zeros_client};
use burn_cubecl::tensor::CubeTensor;

use crate::meshnet::dilated_conv::ConvShape;

/// The most partial sums per weight the weight gradient keeps (bounds its scratch memory).
pub const MAX_CHUNKS: usize = 1024;

/// `out[b, co] = bias[co] + Σ_ci Σ_k w[co, ci, k] · x[b, ci, p + (k − 1)·d]` (zero outside).
/// Each thread computes `block` output channels (a divisor of `cout`) at one position, so
/// that every input value it loads serves `block` sums.
#[cube(launch_unchecked)]
fn conv_kernel(
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
fn mirror_kernel(w: &[f32], m: &mut [f32], cin: usize, cout: usize) {
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
fn weight_grad_partial_kernel(
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
fn sum_chunks_kernel(partial: &[f32], out: &mut [f32], chunks: usize) {
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

/// Rows per weight-gradient chunk: as few rows as keep the partial sums (`weights × chunks`)
/// within [`MAX_CHUNKS`] per weight and no larger than the convolution's output, so that the
/// scratch buffer is never the largest buffer of a step (see [`crate::plan`]'s fit).
pub fn rows_per_chunk(s: &ConvShape) -> usize {
    let slices = (s.batch * s.dims[0]).max(1);
    let height = s.dims[1].max(1);
    let wanted = (s.output_len() / s.weight_len().max(1)).clamp(1, MAX_CHUNKS);
    // Rounded down: `height.div_ceil(rows)` blocks per slice are then at most `blocks`.
    let blocks = (wanted / slices).clamp(1, height);
    height.div_ceil(blocks)
}

fn chunk_count(s: &ConvShape, rows: usize) -> usize {
    s.batch * s.dims[0] * s.dims[1].div_ceil(rows)
}

fn launch_size(t: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&t.client, n);
    (calculate_cube_count_elemwise(&t.client, n, dim), dim)
}

fn empty(like: &CubeTensor, shape: [usize; 5]) -> CubeTensor {
    let shape: Vec<usize> = shape.into();
    empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        like.dtype,
    )
}

/// `x` `[batch, cin, D, H, W]`, `w` `[cout, cin, 3, 3, 3]`, `bias` `[cout]`, all f32 →
/// `[batch, cout, D, H, W]`.
pub fn forward(x: CubeTensor, w: CubeTensor, bias: CubeTensor, s: &ConvShape) -> CubeTensor {
    let (x, w, bias) = (
        into_contiguous(x),
        into_contiguous(w),
        into_contiguous(bias),
    );
    convolve(x, w, Some(bias), s)
}

/// The gradient with respect to the input, `[batch, cin, D, H, W]`, of the output's `grad`:
/// the same convolution with the weights mirrored and their channels swapped.
pub fn input_grad(grad: CubeTensor, w: CubeTensor, s: &ConvShape) -> CubeTensor {
    let (grad, w) = (into_contiguous(grad), into_contiguous(w));
    let mirrored = empty(&w, [s.cin, s.cout, 3, 3, 3]);
    let (count, dim) = launch_size(&mirrored, s.weight_len());
    // SAFETY: the kernel reads `w` and writes `mirrored` at indices below their lengths
    // (both `cout · cin · 27`); threads past the end return first.
    unsafe {
        mirror_kernel::launch_unchecked(
            &mirrored.client,
            count,
            dim,
            w.into_buffer_arg(),
            mirrored.clone().into_buffer_arg(),
            s.cin,
            s.cout,
        );
    }
    let transposed = ConvShape {
        cin: s.cout,
        cout: s.cin,
        ..*s
    };
    convolve(grad, mirrored, None, &transposed)
}

/// Output channels per thread: the largest divisor of `channels` up to 8.
pub fn channel_block(channels: usize) -> usize {
    (1..=8.min(channels.max(1)))
        .rev()
        .find(|b| channels.is_multiple_of(*b))
        .unwrap_or(1)
}

/// [`conv_kernel`] on contiguous tensors.
fn convolve(x: CubeTensor, w: CubeTensor, bias: Option<CubeTensor>, s: &ConvShape) -> CubeTensor {
    let [depth, height, width] = s.dims;
    let out = empty(&x, [s.batch, s.cout, depth, height, width]);
    let block = channel_block(s.cout);
    let (count, dim) = launch_size(&out, s.output_len() / block);
    let with_bias = bias.is_some();
    // Without a bias the kernel reads none: any buffer stands in.
    let bias = bias.unwrap_or_else(|| w.clone());
    // SAFETY: every index the kernel reads or writes is inside its buffer by construction
    // (contiguous tensors of the shapes above); threads past the end return first.
    unsafe {
        conv_kernel::launch_unchecked(
            &out.client,
            count,
            dim,
            x.into_buffer_arg(),
            w.into_buffer_arg(),
            bias.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            s.cin,
            s.cout,
            depth,
            height,
            width,
            s.dilation,
            block,
            with_bias,
        );
    }
    out
}

/// The gradient with respect to the weight, `[cout, cin, 3, 3, 3]`, of the output's `grad`.
pub fn weight_grad(x: CubeTensor, grad: CubeTensor, s: &ConvShape) -> CubeTensor {
    let (x, grad) = (into_contiguous(x), into_contiguous(grad));
    let [depth, height, width] = s.dims;
    let rows = rows_per_chunk(s);
    let chunks = chunk_count(s, rows);
    let weights = s.weight_len();
    let out = empty(&x, [s.cout, s.cin, 3, 3, 3]);
    if chunks == 0 || width == 0 {
        return zeros_client(
            out.client.clone(),
            out.device.clone(),
            out.meta.shape().clone(),
            out.dtype,
        );
    }
    let partial = empty(&x, [weights, chunks, 1, 1, 1]);
    let threads = chunks * s.cout * s.cin * 9;
    let (count, dim) = launch_size(&partial, threads);
    // SAFETY: every index the kernel reads or writes is inside its buffer by construction
    // (the shapes above); threads past the end return first.
    unsafe {
        weight_grad_partial_kernel::launch_unchecked(
            &partial.client,
            count,
            dim,
            x.into_buffer_arg(),
            grad.into_buffer_arg(),
            partial.clone().into_buffer_arg(),
            s.cin,
            s.cout,
            depth,
            height,
            width,
            s.dilation,
            rows,
            height.div_ceil(rows),
            chunks,
        );
    }
    let (count, dim) = launch_size(&out, weights);
    // SAFETY: every index the kernel reads or writes is inside its buffer by construction
    // (the shapes above); threads past the end return first.
    unsafe {
        sum_chunks_kernel::launch_unchecked(
            &out.client,
            count,
            dim,
            partial.into_buffer_arg(),
            out.clone().into_buffer_arg(),
            chunks,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(batch: usize, channels: usize, n: usize) -> ConvShape {
        ConvShape {
            batch,
            cin: channels,
            cout: channels,
            dims: [n; 3],
            dilation: 1,
        }
    }

    #[test]
    fn a_thread_takes_the_largest_channel_divisor_up_to_eight() {
        let blocks: Vec<usize> = [1, 3, 5, 16, 21, 11].map(channel_block).into();
        assert_eq!(blocks, [1, 3, 5, 8, 7, 1]);
    }

    /// The partial sums stay within the output's size and the chunk cap, and the chunks
    /// cover every row.
    #[test]
    fn the_weight_gradient_scratch_is_bounded() {
        for s in [
            shape(1, 5, 64),
            shape(1, 21, 64),
            shape(4, 21, 64),
            shape(1, 5, 16),
        ] {
            let rows = rows_per_chunk(&s);
            let chunks = chunk_count(&s, rows);
            assert!(chunks <= MAX_CHUNKS, "{s:?}: {chunks} chunks");
            assert!(
                chunks * s.weight_len() <= s.output_len(),
                "{s:?}: {chunks} chunks"
            );
            assert!(rows * s.dims[1].div_ceil(rows) >= s.dims[1], "{s:?}");
        }
        // 21 channels at 64³: 7 chunks of 10 rows per slice, 448 in all (5.3 M partial sums
        // against 5.5 M output values).
        let s = shape(1, 21, 64);
        assert_eq!(rows_per_chunk(&s), 10);
        assert_eq!(chunk_count(&s, 10), 448);
    }
}
