//! A median or trimmed-mean round's aggregate, a chunk of parameters at a time
//! ([`chunks`]): each stored upload is read by range, so the object holds `N × chunk`
//! values, not every upload whole (32 uploads of 1M parameters would be 128 MB alone).
//! With the plan's `clip_norm`, a first pass measures each update's norm the same way.

use meshfed_shared::aggregate::{chunks, clip, robust};
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
        // Each update's scale towards the global model, where it is clipped.
        let mut scales: Vec<Option<f64>> = vec![None; keys.len()];
        if let Some(max_norm) = counting.clip_norm() {
            let mut squares = vec![0.0f64; keys.len()];
            for start in (0..p).step_by(step) {
                let range = start..(start + step).min(p);
                let base = global.map(|g| &g[range.clone()]);
                for (i, (key, layout)) in keys.iter().zip(&layouts).enumerate() {
                    let values = self.read(key, layout, live, range.clone()).await?;
                    squares[i] += clip::update_squares(&values, base);
                }
            }
            for (scale, sq) in scales.iter_mut().zip(squares) {
                *scale = clip::scale_for(sq.sqrt(), max_norm);
            }
        }
        let mut out = Vec::with_capacity(p);
        for start in (0..p).step_by(step) {
            let range = start..(start + step).min(p);
            let mut columns = Vec::with_capacity(keys.len());
            for ((key, layout), &scale) in keys.iter().zip(&layouts).zip(&scales) {
                let mut values = self.read(key, layout, live, range.clone()).await?;
                if let Some(scale) = scale {
                    clip::rescale(&mut values, global.map(|g| &g[range.clone()]), scale);
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
        let len = range.len();
        let ranges = chunks::byte_ranges(layout, &live.model, range)
            .map_err(|e| crate::error::EdgeError::Internal(format!("{key}: {e}")))?;
        let mut values = Vec::with_capacity(len);
        for (offset, length) in ranges {
            let raw = blobs::get_range(&self.env, key, offset, length).await?;
            values.extend(safetensors::decode(&raw, DType::F32));
        }
        Ok(values)
    }
}
