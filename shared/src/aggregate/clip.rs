//! Norm clipping of each update against the round's global model: an upload `w` whose
//! update `w − g` is longer than the plan's `clip_norm` counts as `g + (w − g)·C/‖w − g‖`, so
//! that no single participant moves the model further than `C` however it scales its weights.
//! For gradients rounds the update is the gradient itself (`g` = 0).

/// The Euclidean norm of `w − g` (of `w` without `g`), in f64.
pub fn update_norm(w: &[f32], g: Option<&[f32]>) -> f64 {
    let sq = |(i, &v): (usize, &f32)| {
        let d = v as f64 - g.map_or(0.0, |g| g[i] as f64);
        d * d
    };
    w.iter().enumerate().map(sq).sum::<f64>().sqrt()
}

/// Clips `w` in place to an update of norm at most `max_norm` from `g` (from 0 without `g`);
/// true if it was clipped. A non-finite norm (an overflowing upload) clips to `g` itself.
pub fn clip(w: &mut [f32], g: Option<&[f32]>, max_norm: f64) -> bool {
    assert!(g.is_none_or(|g| g.len() == w.len()), "update length");
    let norm = update_norm(w, g);
    if norm <= max_norm {
        return false;
    }
    for (i, v) in w.iter_mut().enumerate() {
        let base = g.map_or(0.0, |g| g[i] as f64);
        *v = if norm.is_finite() {
            (base + (*v as f64 - base) * (max_norm / norm)) as f32
        } else {
            base as f32
        };
    }
    true
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
}
