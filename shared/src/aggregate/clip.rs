//! Norm clipping of each update against the round's global model: an upload `w` whose
//! update `w − g` is longer than the plan's `clip_norm` counts as `g + (w − g)·C/‖w − g‖`, so
//! that no single participant moves the model further than `C` however it scales its weights.
//! For gradients rounds the update is the gradient itself (`g` = 0).

/// `Σ (w − g)²` (of `w` without `g`), in f64: chunks of one update add up to its square.
pub fn update_squares(w: &[f32], g: Option<&[f32]>) -> f64 {
    assert!(g.is_none_or(|g| g.len() == w.len()), "update length");
    let sq = |(i, &v): (usize, &f32)| {
        let d = v as f64 - g.map_or(0.0, |g| g[i] as f64);
        d * d
    };
    w.iter().enumerate().map(sq).sum()
}

/// The Euclidean norm of `w − g` (of `w` without `g`), in f64.
pub fn update_norm(w: &[f32], g: Option<&[f32]>) -> f64 {
    update_squares(w, g).sqrt()
}

/// The factor an update of `norm` is scaled by: `None` within `max_norm`, 0 for a
/// non-finite norm (an overflowing upload counts as no update).
pub fn scale_for(norm: f64, max_norm: f64) -> Option<f64> {
    if norm <= max_norm {
        None
    } else if norm.is_finite() {
        Some(max_norm / norm)
    } else {
        Some(0.0)
    }
}

/// `w ← g + (w − g)·scale` (from 0 without `g`); a zero scale gives `g` exactly, even where
/// `w` is not finite.
pub fn rescale(w: &mut [f32], g: Option<&[f32]>, scale: f64) {
    assert!(g.is_none_or(|g| g.len() == w.len()), "update length");
    for (i, v) in w.iter_mut().enumerate() {
        let base = g.map_or(0.0, |g| g[i] as f64);
        *v = if scale == 0.0 {
            base as f32
        } else {
            (base + (*v as f64 - base) * scale) as f32
        };
    }
}

/// Clips `w` in place to an update of norm at most `max_norm` from `g` (from 0 without `g`);
/// true if it was clipped. A non-finite norm (an overflowing upload) clips to `g` itself.
pub fn clip(w: &mut [f32], g: Option<&[f32]>, max_norm: f64) -> bool {
    match scale_for(update_norm(w, g), max_norm) {
        Some(scale) => {
            rescale(w, g, scale);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_update_is_scaled_to_the_bound_and_a_short_one_kept() {
        let g = [1.0f32, 1.0, 1.0];
        let mut w = [4.0f32, 5.0, 1.0]; // update (3, 4, 0): norm 5
        assert!(clip(&mut w, Some(&g), 2.5));
        assert_eq!(w, [2.5, 3.0, 1.0]);
        assert!((update_norm(&w, Some(&g)) - 2.5).abs() < 1e-6);
        let mut short = [1.5f32, 1.0, 1.0];
        assert!(!clip(&mut short, Some(&g), 2.5));
        assert_eq!(short, [1.5, 1.0, 1.0]);
    }

    #[test]
    fn gradients_clip_against_zero_and_a_huge_upload_to_the_bound() {
        let mut grad = [0.0f32, 6.0, 8.0];
        assert!(clip(&mut grad, None, 1.0));
        assert!((update_norm(&grad, None) - 1.0).abs() < 1e-6);
        let g = [0.5f32, -0.5];
        let mut huge = [3e38f32, 3e38];
        assert!(clip(&mut huge, Some(&g), 1.0));
        assert!(
            (update_norm(&huge, Some(&g)) - 1.0).abs() < 1e-6,
            "{huge:?}"
        );
        let mut broken = [f32::INFINITY, 0.0];
        assert!(clip(&mut broken, Some(&g), 1.0));
        assert_eq!(broken, g, "a non-finite update counts as no update");
    }

    /// A chunked reader (median, trimmed mean) adds the chunks' squares and rescales each
    /// chunk: the same result as clipping the whole update.
    #[test]
    fn chunk_by_chunk_equals_the_whole_update() {
        let g: Vec<f32> = (0..10).map(|i| i as f32 * 0.1).collect();
        let w: Vec<f32> = (0..10).map(|i| i as f32 * 3.0 - 4.0).collect();
        let mut whole = w.clone();
        assert!(clip(&mut whole, Some(&g), 2.0));
        let squares: f64 = (0..10)
            .step_by(3)
            .map(|s| update_squares(&w[s..(s + 3).min(10)], Some(&g[s..(s + 3).min(10)])))
            .sum();
        let scale = scale_for(squares.sqrt(), 2.0).unwrap();
        let mut chunked = w.clone();
        for s in (0..10).step_by(3) {
            let e = (s + 3).min(10);
            rescale(&mut chunked[s..e], Some(&g[s..e]), scale);
        }
        for (a, b) in chunked.iter().zip(&whole) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{chunked:?} vs {whole:?}"
            );
        }
        assert_eq!(scale_for(1.0, 2.0), None);
        assert_eq!(scale_for(f64::INFINITY, 2.0), Some(0.0));
    }
}
