//! MeshNet's one convolution, computed directly: 3×3×3, dilation `d`, padding `d` (the grid is
//! kept), stride 1, no groups, f32 in NCDHW order. Forward, input gradient and weight gradient.
//!
//! burn's CPU backend runs every convolution through im2col and a general matrix product,
//! and its weight gradient is a convolution with a patch-sized kernel. For MeshNet's few
//! channels (5–21) that moves far more memory than it computes. Here each task takes one
//! output depth slice of one batch item and keeps it in cache:
//! - the forward pass, and with it the input gradient (the same convolution, mirrored), keeps
//!   8 voxels × 6 channels of sums in AVX registers where the CPU has AVX2 and FMA
//!   (`blocked`), and adds shifted input rows into output rows elsewhere (`rows`, also in the
//!   browser);
//! - the weight gradient sums row dot products in 8 lanes.
//!
//! Pure functions on slices; [`meshfed_meshnet`] wires them into burn's autodiff.

#[cfg(target_arch = "x86_64")]
mod blocked;
mod rows;

/// The shapes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub cin: usize,
    pub cout: usize,
    /// Spatial size `[D, H, W]` of input and output alike.
    pub dims: [usize; 3],
    pub dilation: usize,
}

impl ConvShape {
    fn plane(&self) -> usize {
        self.dims[1] * self.dims[2]
    }

    fn volume(&self) -> usize {
        self.dims[0] * self.plane()
    }

    /// Elements of the input `[batch, cin, D, H, W]`.
    pub fn input_len(&self) -> usize {
        self.batch * self.cin * self.volume()
    }

    /// Elements of the output `[batch, cout, D, H, W]`.
    pub fn output_len(&self) -> usize {
        self.batch * self.cout * self.volume()
    }

    /// Elements of the weight `[cout, cin, 3, 3, 3]`.
    pub fn weight_len(&self) -> usize {
        self.cout * self.cin * 27
    }

    /// The shape of the input gradient's convolution: channels swapped.
    fn transposed(&self) -> ConvShape {
        ConvShape {
            cin: self.cout,
            cout: self.cin,
            ..*self
        }
    }
}

/// For a tap at offset `(k - 1) · d`: the output positions `lo..hi` whose input lies inside
/// `0..n`, and the offset.
fn valid(k: usize, d: usize, n: usize) -> (usize, usize, isize) {
    let offset = (k as isize - 1) * d as isize;
    let lo = (-offset).max(0) as usize;
    let hi = (n as isize - offset.max(0)).max(0) as usize;
    (lo.min(hi), hi, offset)
}

/// `out[b, co] = bias[co] + Σ_ci Σ_k w[co, ci, k] · x[b, ci] shifted by k · d` (zero outside).
/// `x` is `[batch, cin, D, H, W]`, `w` `[cout, cin, 3, 3, 3]`, `bias` `[cout]`.
pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    assert_eq!(x.len(), s.input_len(), "conv input length");
    assert_eq!(w.len(), s.weight_len(), "conv weight length");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), s.cout, "conv bias length");
    }
    #[cfg(target_arch = "x86_64")]
    if blocked::available() {
        return blocked::forward(x, w, bias, s);
    }
    rows::forward(x, w, bias, s)
}

/// The gradient of [`forward`] with respect to `x`, given the gradient `g` of its output: the
/// same convolution with the kernel mirrored and its channels swapped.
pub fn input_grad(g: &[f32], w: &[f32], s: &ConvShape) -> Vec<f32> {
    let mut mirrored = vec![0f32; w.len()];
    for co in 0..s.cout {
        for ci in 0..s.cin {
            for k in 0..27 {
                mirrored[(ci * s.cout + co) * 27 + 26 - k] = w[(co * s.cin + ci) * 27 + k];
            }
        }
    }
    forward(g, &mirrored, None, &s.transposed())
}

/// The gradient of [`forward`] with respect to `w`:
/// `gw[co, ci, k] = Σ_b Σ_voxels g[b, co] · x[b, ci] shifted by k · d`.
pub fn weight_grad(x: &[f32], g: &[f32], s: &ConvShape) -> Vec<f32> {
    assert_eq!(x.len(), s.input_len(), "conv input length");
    assert_eq!(g.len(), s.output_len(), "conv output-gradient length");
    let depth = s.dims[0];
    let partial = |i: usize| {
        let (b, z) = (i / depth, i % depth);
        let mut acc = vec![0f32; s.weight_len()];
        let xb = &x[b * s.cin * s.volume()..(b + 1) * s.cin * s.volume()];
        let gb = &g[b * s.cout * s.volume()..(b + 1) * s.cout * s.volume()];
        weight_grad_slab(xb, gb, s, z, &mut acc);
        acc
    };
    sum_over(s.batch * depth, s.weight_len(), partial)
}

/// Adds depth slice `z` of one batch item's contribution to the weight gradient `acc`.
#[inline(always)]
fn weight_grad_slab_with<const FMA: bool>(
    xb: &[f32],
    gb: &[f32],
    s: &ConvShape,
    z: usize,
    acc: &mut [f32],
) {
    let ([depth, height, width], d, plane) = (s.dims, s.dilation, s.plane());
    for kz in 0..3 {
        let (zlo, zhi, dz) = valid(kz, d, depth);
        if !(zlo..zhi).contains(&z) {
            continue;
        }
        let iz = (z as isize + dz) as usize;
        for ci in 0..s.cin {
            let input = &xb[(ci * depth + iz) * plane..][..plane];
            for co in 0..s.cout {
                let grad = &gb[(co * depth + z) * plane..][..plane];
                for ky in 0..3 {
                    let (ylo, yhi, dy) = valid(ky, d, height);
                    for kx in 0..3 {
                        let (xlo, xhi, dx) = valid(kx, d, width);
                        if xlo == xhi {
                            continue;
                        }
                        let n = xhi - xlo;
                        let mut sum = 0f32;
                        for y in ylo..yhi {
                            let iy = (y as isize + dy) as usize;
                            let ix = (xlo as isize + dx) as usize;
                            sum += dot::<FMA>(
                                &grad[y * width + xlo..][..n],
                                &input[iy * width + ix..][..n],
                            );
                        }
                        acc[(co * s.cin + ci) * 27 + (kz * 3 + ky) * 3 + kx] += sum;
                    }
                }
            }
        }
    }
}

/// A dot product in eight independent lanes, so that it vectorizes without reassociating.
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] = if FMA {
                x[i].mul_add(y[i], lanes[i])
            } else {
                lanes[i] + x[i] * y[i]
            };
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// [`weight_grad_slab_with`] with fused multiply-adds on x86-64 CPUs that have AVX2 and FMA
/// (chosen at run time: builds target baseline x86-64), in SIMD128 in the browser, plainly
/// elsewhere.
#[cfg(not(target_arch = "wasm32"))]
fn weight_grad_slab(xb: &[f32], gb: &[f32], s: &ConvShape, z: usize, acc: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if blocked::available() {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { weight_grad_slab_avx2(xb, gb, s, z, acc) };
    }
    weight_grad_slab_with::<false>(xb, gb, s, z, acc)
}

#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
fn weight_grad_slab(xb: &[f32], gb: &[f32], s: &ConvShape, z: usize, acc: &mut [f32]) {
    weight_grad_slab_with::<false>(xb, gb, s, z, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_grad_slab_avx2(xb: &[f32], gb: &[f32], s: &ConvShape, z: usize, acc: &mut [f32]) {
    weight_grad_slab_with::<true>(xb, gb, s, z, acc)
}

/// `[batch, depth, channels, plane]` slabs → `[batch, channels, depth, plane]`.
fn slabs_to_ncdhw(
    slabs: &[f32],
    batch: usize,
    channels: usize,
    depth: usize,
    plane: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; slabs.len()];
    for b in 0..batch {
        for z in 0..depth {
            for c in 0..channels {
                let from = ((b * depth + z) * channels + c) * plane;
                let to = ((b * channels + c) * depth + z) * plane;
                out[to..to + plane].copy_from_slice(&slabs[from..from + plane]);
            }
        }
    }
    out
}

/// Runs `f(i, chunk)` on every `size`-element chunk of `data`, in parallel where rayon is on.
fn for_each_chunk(data: &mut [f32], size: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    #[cfg(feature = "native-cpu")]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(size)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
    #[cfg(not(feature = "native-cpu"))]
    data.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
}

/// `Σ_i part(i)` over `0..count`, each part `len` long, in parallel where rayon is on.
fn sum_over(count: usize, len: usize, part: impl Fn(usize) -> Vec<f32> + Sync + Send) -> Vec<f32> {
    let add = |mut a: Vec<f32>, b: Vec<f32>| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
    };
    #[cfg(feature = "native-cpu")]
    {
        use rayon::prelude::*;
        (0..count)
            .into_par_iter()
            .map(part)
            .reduce(|| vec![0f32; len], add)
    }
    #[cfg(not(feature = "native-cpu"))]
    (0..count).map(part).fold(vec![0f32; len], add)
}

#[cfg(test)]
mod tests;
