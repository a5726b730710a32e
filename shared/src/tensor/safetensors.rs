//! The safetensors format: an 8-byte little-endian header length, a JSON header
//! (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`), then
//! the tensors' bytes, little-endian, back to back. Reads F32 and F16 (widened to f32);
//! writes F32 or F16.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{f16, DType, NamedTensors, Tensor, TensorError};

/// Headers larger than this are refused before parsing (the format's own guard).
pub const MAX_HEADER_BYTES: usize = 100 * 1024 * 1024;

/// A parsed file: tensors in the order of their data, and the free-form string metadata.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SafeTensors {
    pub tensors: NamedTensors,
    pub dtypes: Vec<DType>,
    pub metadata: BTreeMap<String, String>,
}

fn header_err(reason: impl Into<String>) -> TensorError {
    TensorError::BadHeader(reason.into())
}

/// One tensor's place in a file's data section.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Byte offsets in the data section, `[begin, end)`.
    pub begin: usize,
    pub end: usize,
}

/// Where a file's tensors lie, from its first `8 + header length` bytes: enough to read a
/// range of one tensor without the rest (R2 range reads).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The data section's first byte in the file.
    pub data_start: usize,
    /// In the order of their data, back to back from 0.
    pub tensors: Vec<Entry>,
    pub metadata: BTreeMap<String, String>,
}

/// The header's length from the file's first 8 bytes (checked against [`MAX_HEADER_BYTES`]).
pub fn header_len(bytes: &[u8]) -> Result<usize, TensorError> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| TensorError::Truncated("shorter than the 8-byte header length".into()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES as u64 {
        return Err(header_err(format!(
            "header length {header_len} is too large"
        )));
    }
    Ok(header_len as usize)
}

/// The layout from the file's first `8 + header length` bytes (or more).
pub fn layout(bytes: &[u8]) -> Result<Layout, TensorError> {
    let header_len = header_len(bytes)?;
    let header_end = 8 + header_len;
    let header = bytes.get(8..header_end).ok_or_else(|| {
        TensorError::Truncated(format!("header of {header_len} bytes does not fit"))
    })?;
    let header: Map<String, Value> = serde_json::from_slice(header)
        .map_err(|e| header_err(format!("not a JSON object: {e}")))?;
    let mut metadata = BTreeMap::new();
    let mut entries = vec![];
    for (name, info) in header {
        if name == "__metadata__" {
            let map = info
                .as_object()
                .ok_or_else(|| header_err("__metadata__ is not an object"))?;
            for (k, v) in map {
                let v = v
                    .as_str()
                    .ok_or_else(|| header_err(format!("__metadata__.{k} is not a string")))?;
                metadata.insert(k.clone(), v.to_string());
            }
            continue;
        }
        entries.push(entry(name, &info)?);
    }
    entries.sort_by_key(|e| e.begin);
    let mut expected_begin = 0;
    for e in &entries {
        if e.begin != expected_begin {
            return Err(TensorError::BadTensor {
                name: e.name.clone(),
                reason: "tensor data is not contiguous with the previous tensor".into(),
            });
        }
        expected_begin = e.end;
    }
    Ok(Layout {
        data_start: header_end,
        tensors: entries,
        metadata,
    })
}

fn entry(name: String, info: &Value) -> Result<Entry, TensorError> {
    let bad = |reason: &str| TensorError::BadTensor {
        name: name.clone(),
        reason: reason.to_string(),
    };
    let dtype = match info["dtype"].as_str() {
        Some("F32") => DType::F32,
        Some("F16") => DType::F16,
        Some(other) => {
            return Err(TensorError::UnsupportedDtype {
                name,
                dtype: other.to_string(),
            })
        }
        None => return Err(bad("dtype is missing")),
    };
    let shape: Vec<usize> = info["shape"]
        .as_array()
        .ok_or_else(|| bad("shape is missing"))?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("shape has a non-integer dimension"))?;
    let offsets = info["data_offsets"]
        .as_array()
        .filter(|o| o.len() == 2)
        .and_then(|o| Some((o[0].as_u64()? as usize, o[1].as_u64()? as usize)))
        .ok_or_else(|| bad("data_offsets must be [begin, end]"))?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad("shape overflows"))?;
    if offsets.1 < offsets.0 || offsets.1 - offsets.0 != count * dtype.size() {
        return Err(bad(&format!(
            "data_offsets span {} bytes but shape {shape:?} of {} needs {}",
            offsets.1.saturating_sub(offsets.0),
            dtype.name(),
            count * dtype.size()
        )));
    }
    Ok(Entry {
        name,
        dtype,
        shape,
        begin: offsets.0,
        end: offsets.1,
    })
}

/// Decodes little-endian values of `dtype` to f32.
pub fn decode(raw: &[u8], dtype: DType) -> Vec<f32> {
    match dtype {
        DType::F32 => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F16 => raw
            .chunks_exact(2)
            .map(|c| f16::to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
    }
}

/// Parses a whole safetensors buffer.
pub fn read(bytes: &[u8]) -> Result<SafeTensors, TensorError> {
    let layout = layout(bytes)?;
    let data = &bytes[layout.data_start..];
    let mut out = SafeTensors {
        metadata: layout.metadata,
        ..Default::default()
    };
    // `layout` checked that the tensors lie back to back from 0: the last one ends the data.
    let data_end = layout.tensors.last().map_or(0, |e| e.end);
    for e in layout.tensors {
        let raw = data.get(e.begin..e.end).ok_or_else(|| {
            TensorError::Truncated(format!("tensor {:?} ends past the end of the file", e.name))
        })?;
        out.tensors
            .push((e.name, Tensor::new(e.shape, decode(raw, e.dtype))));
        out.dtypes.push(e.dtype);
    }
    if data_end != data.len() {
        return Err(header_err(format!(
            "{} bytes after the last tensor",
            data.len() - data_end
        )));
    }
    Ok(out)
}

/// Writes tensors in the given order, each as `dtype`, with string `metadata`.
pub fn write(
    tensors: &[(String, Tensor)],
    dtype: DType,
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut header = Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), json!(metadata));
    }
    let mut offset = 0usize;
    for (name, t) in tensors {
        let end = offset + t.data.len() * dtype.size();
        header.insert(
            name.clone(),
            json!({"dtype": dtype.name(), "shape": t.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header = serde_json::to_vec(&Value::Object(header)).unwrap_or_default();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for (_, t) in tensors {
        match dtype {
            DType::F32 => t
                .data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DType::F16 => t
                .data
                .iter()
                .for_each(|v| out.extend_from_slice(&f16::from_f32(*v).to_le_bytes())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NamedTensors {
        vec![
            (
                "b".into(),
                Tensor::new(vec![2, 3], vec![1., 2., 3., 4., 5., -6.5]),
            ),
            ("a".into(), Tensor::new(vec![1], vec![0.25])),
            ("s".into(), Tensor::new(vec![], vec![7.0])),
        ]
    }

    #[test]
    fn f32_round_trips_with_metadata_and_order() {
        let meta = BTreeMap::from([("num_examples".to_string(), "12".to_string())]);
        let bytes = write(&sample(), DType::F32, &meta);
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header_len % 8, 0, "header padded to 8 bytes");
        let back = read(&bytes).unwrap();
        assert_eq!(back.tensors, sample());
        assert_eq!(back.dtypes, vec![DType::F32; 3]);
        assert_eq!(back.metadata, meta);
    }

    #[test]
    fn f16_round_trips_representable_values() {
        let bytes = write(&sample(), DType::F16, &BTreeMap::new());
        let back = read(&bytes).unwrap();
        assert_eq!(back.tensors, sample());
        assert_eq!(back.dtypes, vec![DType::F16; 3]);
        assert_eq!(bytes.len() - 8 - header(&bytes).len(), 8 * 2);
    }

    fn header(bytes: &[u8]) -> &[u8] {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        &bytes[8..8 + n]
    }

    /// A file whose header is `header_json` followed by `data`.
    fn file(header_json: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header_json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header_json.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_a_file_written_by_the_python_library() {
        // safetensors.numpy.save({"w": np.array([[1, 2]], np.float32)}) header layout.
        let bytes = file(
            r#"{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#,
            &[0, 0, 128, 63, 0, 0, 0, 64],
        );
        let st = read(&bytes).unwrap();
        assert_eq!(
            st.tensors,
            vec![("w".into(), Tensor::new(vec![1, 2], vec![1.0, 2.0]))]
        );
    }

    #[test]
    fn broken_files_are_refused_with_the_reason() {
        assert!(matches!(read(&[1, 2, 3]), Err(TensorError::Truncated(_))));
        let too_long = file("{}", &[]);
        assert!(matches!(
            read(&too_long[..9]),
            Err(TensorError::Truncated(_))
        ));
        assert!(matches!(
            read(&file("[1]", &[])),
            Err(TensorError::BadHeader(_))
        ));
        let bf16 = file(
            r#"{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#,
            &[0, 0],
        );
        assert_eq!(
            read(&bf16),
            Err(TensorError::UnsupportedDtype {
                name: "w".into(),
                dtype: "BF16".into()
            })
        );
        let short = file(
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
            &[0; 4],
        );
        assert!(matches!(read(&short), Err(TensorError::BadTensor { name, .. }) if name == "w"));
        let past_end = file(
            r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            &[0; 4],
        );
        assert!(matches!(read(&past_end), Err(TensorError::Truncated(_))));
        let trailing = file(
            r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            &[0; 6],
        );
        assert!(matches!(read(&trailing), Err(TensorError::BadHeader(_))));
        let gap = file(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#,
            &[0; 16],
        );
        assert!(matches!(read(&gap), Err(TensorError::BadTensor { .. })));
        let huge = (u64::MAX).to_le_bytes();
        assert!(matches!(read(&huge), Err(TensorError::BadHeader(_))));
    }
}
