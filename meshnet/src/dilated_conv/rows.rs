//! The forward convolution on any CPU: row by row, each input row and tap added into the
//! output rows in loops the compiler vectorizes for whatever the target has (in the browser:
//! wasm SIMD128, enabled for these loops alone). x86-64 CPUs with AVX2 and FMA take
//! [`super::blocked`] instead.

use super::{for_each_chunk, slabs_to_ncdhw, valid, ConvShape};

/// `out[b, co] = bias[co] + Σ_ci Σ_k w[co, ci, k] · x[b, ci] shifted by k · d` (zero outside).
pub(super) fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    let (depth, plane) = (s.dims[0], s.dims[1] * s.dims[2]);
    let volume = depth * plane;
    // Computed per (b, z) as `[cout, H, W]` slabs, then put in NCDHW order.
    let mut slabs = vec![0f32; s.output_len()];
    for_each_chunk(&mut slabs, s.cout * plane, |i, out| {
        let (b, z) = (i / depth, i % depth);
        if let Some(bias) = bias {
            for (co, &v) in bias.iter().enumerate() {
                out[co * plane..(co + 1) * plane].fill(v);
            }
        }
        slab(
            &x[b * s.cin * volume..(b + 1) * s.cin * volume],
            w,
            s,
            z,
            out,
        );
    });
    slabs_to_ncdhw(&slabs, s.batch, s.cout, depth, plane)
}

/// [`slab_with`], in wasm SIMD128 in the browser (every engine that has WebAssembly threads
/// or WebGPU has it; the module would not load without it).
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
fn slab(xb: &[f32], w: &[f32], s: &ConvShape, z: usize, out: &mut [f32]) {
    slab_with(xb, w, s, z, out)
}

#[cfg(not(target_arch = "wasm32"))]
fn slab(xb: &[f32], w: &[f32], s: &ConvShape, z: usize, out: &mut [f32]) {
    slab_with(xb, w, s, z, out)
}

/// Adds every tap of every input channel into the output slab `out` `[cout, H, W]` at depth
/// `z` of one batch item `xb` `[cin, D, H, W]`. Row by row, so that the `cout` output rows
/// being summed into stay in the L1 cache while every input row and tap is added.
#[inline(always)]
fn slab_with(xb: &[f32], w: &[f32], s: &ConvShape, z: usize, out: &mut [f32]) {
    let ([depth, height, width], d) = (s.dims, s.dilation);
    let plane = height * width;
    let taps = |k: usize, n: usize| valid(k, d, n);
    for y in 0..height {
        for ci in 0..s.cin {
            for kz in 0..3 {
                let (zlo, zhi, dz) = taps(kz, depth);
                if !(zlo..zhi).contains(&z) {
                    continue;
                }
                let input = &xb[(ci * depth + (z as isize + dz) as usize) * plane..][..plane];
                for ky in 0..3 {
                    let (ylo, yhi, dy) = taps(ky, height);
                    if !(ylo..yhi).contains(&y) {
                        continue;
                    }
                    let irow = &input[(y as isize + dy) as usize * width..][..width];
                    for kx in 0..3 {
                        let (xlo, xhi, dx) = taps(kx, width);
                        if xlo == xhi {
                            continue;
                        }
                        let ix = (xlo as isize + dx) as usize;
                        let irow = &irow[ix..ix + (xhi - xlo)];
                        let tap = (kz * 3 + ky) * 3 + kx;
                        for co in 0..s.cout {
                            let wv = w[(co * s.cin + ci) * 27 + tap];
                            let orow = &mut out[co * plane + y * width + xlo..][..xhi - xlo];
                            for (o, &v) in orow.iter_mut().zip(irow) {
                                *o += wv * v;
                            }
                        }
                    }
                }
            }
        }
    }
}
