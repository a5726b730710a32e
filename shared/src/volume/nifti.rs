//! NIfTI-1 volumes and label maps from bytes (`.nii`, or `.nii.gz` when the bytes start with
//! gzip's magic), for the browser, which has a file's bytes and no `nifti` crate. Reads the
//! header's dims, datatype, byte order, data offset and scaling; the voxels land in
//! Meshfed's layout ([`Grid::from_nifti_order`]).

use std::io::Read;

use super::{Grid, Labels, Volume, VolumeError};

/// Why bytes are not a volume Meshfed can use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NiftiError {
    #[error("not a NIfTI-1 file: {0}")]
    Format(String),
    #[error("the gzip stream is damaged: {0}")]
    Gzip(String),
    #[error("NIfTI data type {0} is not supported (use uint8, int8, int16, uint16, int32, uint32, float32 or float64)")]
    DataType(i16),
    #[error("MeshNet needs a 3-D volume; this one has dims {0:?}")]
    Dims(Vec<usize>),
    #[error(
        "the file ends early: the header promises {expected} bytes of voxels, {found} are there"
    )]
    Truncated { expected: usize, found: usize },
    #[error("a label map holds whole numbers 0..=255, found {0}")]
    Label(f32),
    #[error(transparent)]
    Volume(#[from] VolumeError),
}

/// The largest decompressed file accepted (a 512³ float32 volume is 512 MiB).
const MAX_BYTES: u64 = 1 << 30;
const HEADER_LEN: usize = 348;

/// Reads a 3-D volume (a 4-D file with one frame is accepted) as f32, scaling applied.
pub fn read_volume(bytes: &[u8]) -> Result<Volume, NiftiError> {
    let raw = decompress(bytes)?;
    let header = Header::parse(&raw)?;
    let n: usize = header.dims.iter().product();
    let width = header.bytes_per_voxel()?;
    let end = header.offset + n * width;
    if raw.len() < end {
        return Err(NiftiError::Truncated {
            expected: n * width,
            found: raw.len().saturating_sub(header.offset),
        });
    }
    let values: Vec<f32> = raw[header.offset..end]
        .chunks_exact(width)
        .map(|c| header.value(c) * header.slope + header.intercept)
        .collect();
    Ok(Grid::from_nifti_order(header.dims, &values)?)
}

/// Reads a label map: any numeric type holding whole numbers 0..=255.
pub fn read_labels(bytes: &[u8]) -> Result<Labels, NiftiError> {
    let volume = read_volume(bytes)?;
    let mut data = Vec::with_capacity(volume.len());
    for &v in &volume.data {
        if !(0.0..=255.0).contains(&v) || v.fract() != 0.0 {
            return Err(NiftiError::Label(v));
        }
        data.push(v as u8);
    }
    Ok(Labels::new(volume.dims, data)?)
}

fn decompress(bytes: &[u8]) -> Result<Vec<u8>, NiftiError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_BYTES)
        .read_to_end(&mut out)
        .map_err(|e| NiftiError::Gzip(e.to_string()))?;
    Ok(out)
}

struct Header {
    dims: [usize; 3],
    datatype: i16,
    little: bool,
    offset: usize,
    slope: f32,
    intercept: f32,
}

impl Header {
    fn parse(raw: &[u8]) -> Result<Self, NiftiError> {
        if raw.len() < HEADER_LEN {
            return Err(NiftiError::Format(format!(
                "{} bytes is shorter than a NIfTI-1 header",
                raw.len()
            )));
        }
        let first = [raw[0], raw[1], raw[2], raw[3]];
        let little = match (i32::from_le_bytes(first), i32::from_be_bytes(first)) {
            (348, _) => true,
            (_, 348) => false,
            _ => return Err(NiftiError::Format("sizeof_hdr is not 348".into())),
        };
        if &raw[344..347] != b"n+1" && &raw[344..347] != b"ni1" {
            return Err(NiftiError::Format("the magic is not n+1".into()));
        }
        let i16_at = |at: usize| {
            let b = [raw[at], raw[at + 1]];
            if little {
                i16::from_le_bytes(b)
            } else {
                i16::from_be_bytes(b)
            }
        };
        let f32_at = |at: usize| {
            let b = [raw[at], raw[at + 1], raw[at + 2], raw[at + 3]];
            if little {
                f32::from_le_bytes(b)
            } else {
                f32::from_be_bytes(b)
            }
        };
        let rank = i16_at(40).clamp(0, 7) as usize;
        let all: Vec<usize> = (0..rank)
            .map(|i| i16_at(42 + 2 * i).max(0) as usize)
            .collect();
        let spatial = match all.as_slice() {
            [x, y, z, rest @ ..] if rest.iter().all(|&d| d == 1) => [*x, *y, *z],
            _ => return Err(NiftiError::Dims(all)),
        };
        if spatial.contains(&0) {
            return Err(NiftiError::Dims(all));
        }
        let offset = f32_at(108).max(HEADER_LEN as f32) as usize;
        let slope = f32_at(112);
        let slope = if slope == 0.0 || !slope.is_finite() {
            1.0
        } else {
            slope
        };
        let intercept = f32_at(116);
        let intercept = if intercept.is_finite() {
            intercept
        } else {
            0.0
        };
        Ok(Self {
            dims: spatial,
            datatype: i16_at(70),
            little,
            offset,
            slope,
            intercept,
        })
    }

    fn bytes_per_voxel(&self) -> Result<usize, NiftiError> {
        match self.datatype {
            2 | 256 => Ok(1),
            4 | 512 => Ok(2),
            8 | 16 | 768 => Ok(4),
            64 => Ok(8),
            other => Err(NiftiError::DataType(other)),
        }
    }

    /// One voxel's raw value (`c` is exactly [`Header::bytes_per_voxel`] bytes).
    fn value(&self, c: &[u8]) -> f32 {
        macro_rules! read {
            ($t:ty) => {{
                let b = c.try_into().unwrap_or_default();
                (if self.little {
                    <$t>::from_le_bytes(b)
                } else {
                    <$t>::from_be_bytes(b)
                }) as f32
            }};
        }
        match self.datatype {
            2 => c[0] as f32,
            256 => c[0] as i8 as f32,
            4 => read!(i16),
            512 => read!(u16),
            8 => read!(i32),
            768 => read!(u32),
            16 => read!(f32),
            _ => read!(f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little NIfTI-1 file: dims, datatype code, bytes per voxel, the voxel bytes.
    fn file(dims: &[i16], datatype: i16, voxels: &[u8], slope: f32) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        h[0..4].copy_from_slice(&348i32.to_le_bytes());
        h[40..42].copy_from_slice(&(dims.len() as i16).to_le_bytes());
        for (i, d) in dims.iter().enumerate() {
            h[42 + 2 * i..44 + 2 * i].copy_from_slice(&d.to_le_bytes());
        }
        h[70..72].copy_from_slice(&datatype.to_le_bytes());
        h[108..112].copy_from_slice(&352f32.to_le_bytes());
        h[112..116].copy_from_slice(&slope.to_le_bytes());
        h[344..348].copy_from_slice(b"n+1\0");
        h.extend_from_slice(voxels);
        h
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_int16_with_scaling_in_meshfed_order() {
        // dims [2, 1, 2]; NIfTI order is x fastest: (0,0,0) (1,0,0) (0,0,1) (1,0,1).
        let voxels: Vec<u8> = [1i16, 2, 3, -4]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let v = read_volume(&file(&[2, 1, 2], 4, &voxels, 2.0)).unwrap();
        assert_eq!(v.dims, [2, 1, 2]);
        assert_eq!(v.at(0, 0, 1), 6.0);
        assert_eq!(v.at(1, 0, 0), 4.0);
        assert_eq!(v.at(1, 0, 1), -8.0);
    }

    #[test]
    fn reads_gzip_and_float32_and_a_single_frame_4d_file() {
        let voxels: Vec<u8> = [0.5f32, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let v = read_volume(&gzip(&file(&[2, 1, 1, 1], 16, &voxels, 0.0))).unwrap();
        assert_eq!(v.data, vec![0.5, 1.5]);
    }

    #[test]
    fn labels_must_be_whole_bytes() {
        let labels = read_labels(&file(&[3, 1, 1], 2, &[0, 3, 255], 1.0)).unwrap();
        assert_eq!(labels.data, vec![0, 3, 255]);
        let voxels: Vec<u8> = [0.5f32].iter().flat_map(|v| v.to_le_bytes()).collect();
        let err = read_labels(&file(&[1, 1, 1], 16, &voxels, 1.0)).unwrap_err();
        assert_eq!(err, NiftiError::Label(0.5));
    }

    #[test]
    fn bad_files_say_why() {
        assert!(matches!(read_volume(b"hello"), Err(NiftiError::Format(_))));
        let short = file(&[4, 4, 4], 2, &[0; 10], 1.0);
        assert_eq!(
            read_volume(&short).unwrap_err(),
            NiftiError::Truncated {
                expected: 64,
                found: 10
            }
        );
        assert_eq!(
            read_volume(&file(&[2, 2, 2, 3], 2, &[0; 24], 1.0)).unwrap_err(),
            NiftiError::Dims(vec![2, 2, 2, 3])
        );
        assert_eq!(
            read_volume(&file(&[1, 1, 1], 128, &[0; 3], 1.0)).unwrap_err(),
            NiftiError::DataType(128)
        );
        assert!(matches!(
            read_volume(&[0x1f, 0x8b, 1, 2, 3]),
            Err(NiftiError::Gzip(_))
        ));
    }
}
