//! The forward convolution on x86-64 with AVX2 and FMA, blocked for registers: for 8
//! neighbouring output voxels of a row and up to 6 output channels at once, the sums stay in
//! AVX registers while every input channel and tap is added (one load of 8 inputs feeds 6
//! fused multiply-adds). The input is zero-padded first, so that every tap of every voxel reads
//! inside it with no bounds arithmetic.

use std::arch::x86_64::{
    __m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps,
};

use super::{for_each_chunk, slabs_to_ncdhw, ConvShape};

/// Whether this CPU has AVX2 and FMA ([`forward`] and the fused weight gradient need both).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Output voxels along a row summed together (one AVX register of f32).
const LANES: usize = 8;
/// At most this many output channels are summed together.
const MAX_BLOCK: usize = 6;

/// `out[b, co] = bias[co] + Σ_ci Σ_k w[co, ci, k] · x[b, ci] shifted by k · d`. Only where
/// [`available`].
pub(super) fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    match s.cout.min(MAX_BLOCK) {
        1 => run::<1>(x, w, bias, s),
        2 => run::<2>(x, w, bias, s),
        3 => run::<3>(x, w, bias, s),
        4 => run::<4>(x, w, bias, s),
        5 => run::<5>(x, w, bias, s),
        _ => run::<MAX_BLOCK>(x, w, bias, s),
    }
}

/// What one output slab needs.
struct Plan<'a> {
    /// The input zero-padded: `[batch, cin, Dp, Hp, Wp]`.
    padded: Vec<f32>,
    /// `[Dp, Hp, Wp]`.
    padded_dims: [usize; 3],
    /// The weights as `[blocks, cin, 27, B]`, zero past `cout`.
    weights: Vec<f32>,
    bias: Option<&'a [f32]>,
    /// Where each of the 27 taps reads, relative to the output voxel, in the padded input.
    offsets: [usize; 27],
    s: ConvShape,
}

fn run<const B: usize>(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let ([depth, height, width], d) = (s.dims, s.dilation);
    let padded_dims = [
        depth + 2 * d,
        height + 2 * d,
        width.div_ceil(LANES) * LANES + 2 * d,
    ];
    let [_, hp, wp] = padded_dims;
    let channel = padded_dims.iter().product::<usize>();
    let mut padded = vec![0f32; s.batch * s.cin * channel];
    for_each_chunk(&mut padded, channel, |i, dst| {
        let src = &x[i * depth * height * width..][..depth * height * width];
        for (row, values) in src.chunks_exact(width).enumerate() {
            let (z, y) = (row / height, row % height);
            let at = ((z + d) * hp + y + d) * wp + d;
            dst[at..at + width].copy_from_slice(values);
        }
    });
    let mut weights = vec![0f32; s.cout.div_ceil(B) * s.cin * 27 * B];
    for co in 0..s.cout {
        for ci in 0..s.cin {
            for t in 0..27 {
                weights[(((co / B) * s.cin + ci) * 27 + t) * B + co % B] =
                    w[(co * s.cin + ci) * 27 + t];
            }
        }
    }
    let offsets = std::array::from_fn(|t| ((t / 9 * d) * hp + (t / 3 % 3) * d) * wp + (t % 3) * d);
    let plan = Plan {
        padded,
        padded_dims,
        weights,
        bias,
        offsets,
        s: *s,
    };
    let mut slabs = vec![0f32; s.output_len()];
    for_each_chunk(&mut slabs, s.cout * s.dims[1] * s.dims[2], |i, out| {
        slab::<B>(&plan, i / depth, i % depth, out)
    });
    slabs_to_ncdhw(&slabs, s.batch, s.cout, depth, height * width)
}

/// Output slab `[cout, H, W]` at depth `z` of batch item `b`.
fn slab<const B: usize>(plan: &Plan, b: usize, z: usize, out: &mut [f32]) {
    assert!(available(), "the blocked convolution needs AVX2 and FMA");
    // SAFETY: the CPU has AVX2 and FMA, checked just above.
    unsafe { slab_avx2::<B>(plan, b, z, out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn slab_avx2<const B: usize>(plan: &Plan, b: usize, z: usize, out: &mut [f32]) {
    let s = &plan.s;
    let ([_, height, width], [dp, hp, wp]) = (s.dims, plan.padded_dims);
    let channel = dp * hp * wp;
    let xb = &plan.padded[b * s.cin * channel..][..s.cin * channel];
    let plane = height * width;
    for block in 0..s.cout.div_ceil(B) {
        let wblock = &plan.weights[block * s.cin * 27 * B..][..s.cin * 27 * B];
        let start: [f32; B] = std::array::from_fn(|j| {
            let co = block * B + j;
            plan.bias
                .and_then(|bias| bias.get(co).copied())
                .unwrap_or(0.0)
        });
        for y in 0..height {
            for xc in (0..width).step_by(LANES) {
                let mut acc: [__m256; B] = std::array::from_fn(|j| _mm256_set1_ps(start[j]));
                let base = (z * hp + y) * wp + xc;
                for ci in 0..s.cin {
                    let input = &xb[ci * channel + base..];
                    let wci = &wblock[ci * 27 * B..][..27 * B];
                    for (&offset, wt) in plan.offsets.iter().zip(wci.chunks_exact(B)) {
                        let v = &input[offset..offset + LANES];
                        // SAFETY: `v` holds LANES floats (the slice above is bounds-checked).
                        let v = unsafe { _mm256_loadu_ps(v.as_ptr()) };
                        for (a, &w) in acc.iter_mut().zip(wt) {
                            *a = _mm256_fmadd_ps(_mm256_set1_ps(w), v, *a);
                        }
                    }
                }
                let n = LANES.min(width - xc);
                for (j, sums) in acc.iter().enumerate() {
                    let co = block * B + j;
                    if co < s.cout {
                        let mut lanes = [0f32; LANES];
                        // SAFETY: `lanes` has room for LANES floats.
                        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *sums) };
                        out[co * plane + y * width + xc..][..n].copy_from_slice(&lanes[..n]);
                    }
                }
            }
        }
    }
}
