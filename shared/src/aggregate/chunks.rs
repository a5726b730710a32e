//! Median and trimmed mean over chunks of parameters, so that a round's memory is
//! O(N × chunk) instead of O(N × P): each stored upload is read a range at a time (R2 range
//! reads), the chunk's columns are aggregated, and the next chunk replaces them.

use std::ops::Range;

use crate::meshnet::ModelConfig;
use crate::tensor::safetensors::Layout;
use crate::tensor::{DType, TensorError};

/// The f32 values held at once across every upload of a round (8 MB): small beside the
/// Durable Object's 128 MB, which also holds the Worker's own uploads in flight (measured
/// with `bench-median-memory`: a 32 × 1M median close peaked at 94 MB of linear memory with
/// 32 MB here).
pub const COLUMN_BUDGET: usize = 2 << 20;

/// Parameters per chunk when a round has `uploads` uploads.
pub fn chunk_len(uploads: usize) -> usize {
    (COLUMN_BUDGET / uploads.max(1)).max(1)
}

/// The byte ranges `(offset in the file, length)` that hold flat parameters `range` of
/// `model`, in parameter order, in an F32 file laid out as `layout`.
pub fn byte_ranges(
    layout: &Layout,
    model: &ModelConfig,
    range: Range<usize>,
) -> Result<Vec<(u64, u64)>, TensorError> {
    let mut out = Vec::new();
    let mut flat = 0;
    for param in model.params() {
        let (start, end) = (flat, flat + param.len());
        flat = end;
        let (lo, hi) = (start.max(range.start), end.min(range.end));
        if lo >= hi {
            continue;
        }
        let bad = |reason: &str| TensorError::BadTensor {
            name: param.name.clone(),
            reason: reason.into(),
        };
        let entry = layout
            .tensors
            .iter()
            .find(|e| e.name == param.name)
            .ok_or_else(|| bad("missing from the stored file"))?;
        if entry.dtype != DType::F32 || entry.end - entry.begin != param.len() * 4 {
            return Err(bad("not the model's F32 tensor"));
        }
        let offset = layout.data_start + entry.begin + (lo - start) * 4;
        out.push((offset as u64, ((hi - lo) * 4) as u64));
    }
    if flat < range.end {
        return Err(TensorError::Truncated(format!(
            "parameters {range:?} of a model with {flat}"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::tensor::safetensors;

    /// Reading every chunk's ranges out of a stored file gives back the flat values, for
    /// chunks that split tensors anywhere.
    #[test]
    fn chunks_of_ranges_read_back_the_flat_values() {
        let model = ModelConfig::model5(3);
        let p = model.parameter_count();
        let values: Vec<f32> = (0..p).map(|i| i as f32 * 0.5 - 7.0).collect();
        let file = safetensors::write(&model.unflatten(&values), DType::F32, &BTreeMap::new());
        let layout = safetensors::layout(&file).unwrap();
        for chunk in [1, 7, 1000, p] {
            let mut back = Vec::new();
            for start in (0..p).step_by(chunk) {
                let range = start..(start + chunk).min(p);
                for (offset, len) in byte_ranges(&layout, &model, range).unwrap() {
                    let raw = &file[offset as usize..(offset + len) as usize];
                    back.extend(safetensors::decode(raw, DType::F32));
                }
            }
            assert_eq!(back, values, "chunks of {chunk}");
        }
        assert!(byte_ranges(&layout, &model, 0..p + 1).is_err());
        // Another model's last layer (4 classes, not 3) does not fit the stored tensor.
        let other = ModelConfig::model5(4);
        assert!(byte_ranges(&layout, &other, 0..other.parameter_count()).is_err());
    }

    #[test]
    fn a_chunk_keeps_the_round_within_its_budget() {
        assert_eq!(chunk_len(32) * 32, COLUMN_BUDGET);
        assert_eq!(chunk_len(0), COLUMN_BUDGET);
        assert!(chunk_len(1 << 30) >= 1);
    }
}
