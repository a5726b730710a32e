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
//! The kernels themselves are in [`super::cube_kernels`].

use burn_cubecl::cubecl::{calculate_cube_count_elemwise, prelude::*};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::{empty_device_contiguous_dtype, zeros_client};
use burn_cubecl::tensor::CubeTensor;

use super::cube_kernels::{
    conv_kernel, mirror_kernel, sum_chunks_kernel, weight_grad_partial_kernel,
};
use crate::dilated_conv::ConvShape;

/// The most partial sums per weight the weight gradient keeps (bounds its scratch memory).
pub const MAX_CHUNKS: usize = 1024;

/// Rows per weight-gradient chunk: as few rows as keep the partial sums (`weights × chunks`)
/// within [`MAX_CHUNKS`] per weight and no larger than the convolution's output, so that the
/// scratch buffer is never the largest buffer of a step (see [`meshfed_shared::plan`]'s fit).
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
