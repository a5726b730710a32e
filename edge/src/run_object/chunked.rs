//! A median or trimmed-mean round's aggregate, a chunk of parameters at a time
//! ([`chunks`]): each stored upload is read by range, so the object holds `N × chunk`
//! values, not every upload whole (32 uploads of 1M parameters would be 128 MB alone).
//! With the plan's `clip_norm`, a first pass measures each update's norm the same way.

use meshfed_shared::aggregate::{chunks, robust};
use meshfed_shared::tensor::{safetensors, DType};

use super::adjust::Counting;
use super::live::Live;
use super::RunCoordinator;
use crate::blobs;
use crate::error::EdgeResult;

impl RunCoordinator {
    /// The round's median or trimmed mean; `None` without uploads.
    pub(super) async fn chunked_aggregate(
        &self,
        live: &Live,
        counting: &Counting,
    ) -> EdgeResult<Option<Vec<f32>>> {
        let keys: Vec<&str> = live.uploads.values().map(|u| u.r2_key.as_str()).collect();
        let mut layouts = Vec::with_capacity(keys.len());
        for key in &keys {
            layouts.push(blobs::layout(&self.env, key).await?);
        }
        let p = live.model.parameter_count();
        let step = chunks::chunk_len(keys.len());
        let global = counting.global();
        // Each update's scale towards the global model (1 unless clipped).
        let mut scales = vec![1.0f64; keys.len()];
        if let Some(max_norm) = counting.clip_norm() {
            let mut squares = vec![0.0f64; keys.len()];
            for start in (0..p).step_by(step) {
                let range = start..(start + step).min(p);
                for (i, (key, layout)) in keys.iter().zip(&layouts).enumerate() {
                    let values = self.read(key, layout, live, range.clone()).await?;
                    let base = |j: usize| global.map_or(0.0, |g| g[range.start + j] as f64);
                    let sq = values
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| (v as f64 - base(j)).powi(2));
                    squares[i] += sq.sum::<f64>();
                }
            }
            for (scale, sq) in scales.iter_mut().zip(squares) {
                let norm = sq.sqrt();
                if norm > max_norm {
                    *scale = if norm.is_finite() {
                        max_norm / norm
                    } else {
                        0.0
                    };
                }
            }
        }
        let mut out = Vec::with_capacity(p);
        for start in (0..p).step_by(step) {
            let range = start..(start + step).min(p);
            let mut columns = Vec::with_capacity(keys.len());
            for ((key, layout), &scale) in keys.iter().zip(&layouts).zip(&scales) {
                let mut values = self.read(key, layout, live, range.clone()).await?;
                if scale != 1.0 {
                    for (j, v) in values.iter_mut().enumerate() {
                        let base = global.map_or(0.0, |g| g[range.start + j] as f64);
                        *v = (base + (*v as f64 - base) * scale) as f32;
                    }
                }
                columns.push(values);
            }
            let refs: Vec<&[f32]> = columns.iter().map(Vec::as_slice).collect();
            match robust::coordinatewise(&refs, live.method, live.run.trim_fraction) {
                Some(part) => out.extend(part),
                None => return Ok(None),
            }
        }
        Ok((!keys.is_empty()).then_some(out))
    }

    /// Flat parameters `range` of the stored upload `key`.
    async fn read(
        &self,
        key: &str,
        layout: &safetensors::Layout,
        live: &Live,
        range: std::ops::Range<usize>,
    ) -> EdgeResult<Vec<f32>> {
        let ranges = chunks::byte_ranges(layout, &live.model, range)
            .map_err(|e| crate::error::EdgeError::Internal(format!("{key}: {e}")))?;
        let mut values = Vec::new();
        for (offset, length) in ranges {
            let raw = blobs::get_range(&self.env, key, offset, length).await?;
            values.extend(safetensors::decode(&raw, DType::F32));
        }
        Ok(values)
    }
}
