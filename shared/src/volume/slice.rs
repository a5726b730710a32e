//! One plane of a volume as an RGBA image, with a label map tinted over it: the three
//! orthogonal views a person checks their data with before training.

use super::{Labels, Volume};

/// Which plane: perpendicular to x (sagittal), y (coronal) or z (axial).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    Sagittal,
    Coronal,
    Axial,
}

impl Plane {
    pub const ALL: [Plane; 3] = [Plane::Sagittal, Plane::Coronal, Plane::Axial];

    pub fn name(self) -> &'static str {
        match self {
            Self::Sagittal => "Sagittal",
            Self::Coronal => "Coronal",
            Self::Axial => "Axial",
        }
    }

    /// The axis the plane cuts (0 = x, 1 = y, 2 = z).
    pub fn axis(self) -> usize {
        self as usize
    }
}

/// Tints for classes 1, 2, 3, …; class 0 (background) is left untinted.
pub const CLASS_COLOURS: [[u8; 3]; 6] = [
    [230, 57, 70],
    [42, 157, 143],
    [69, 123, 230],
    [244, 162, 97],
    [155, 93, 229],
    [233, 196, 106],
];
const TINT: f32 = 0.45;

/// An image `width × height`, RGBA bytes row by row, top row first.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// The low and high intensities of `volume` (for grey levels).
pub fn intensity_range(volume: &Volume) -> (f32, f32) {
    volume
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Plane `index` (clamped) of `volume` along `plane`, grey between `range`, `overlay`'s
/// classes tinted. The plane's second in-plane axis points up, as radiology viewers show it.
pub fn slice(
    volume: &Volume,
    range: (f32, f32),
    overlay: Option<&Labels>,
    plane: Plane,
    index: usize,
) -> Image {
    let [nx, ny, nz] = volume.dims;
    let index = index.min(volume.dims[plane.axis()].saturating_sub(1));
    let (width, height) = match plane {
        Plane::Sagittal => (ny, nz),
        Plane::Coronal => (nx, nz),
        Plane::Axial => (nx, ny),
    };
    let span = (range.1 - range.0).max(f32::EPSILON);
    let mut rgba = Vec::with_capacity(width * height * 4);
    for row in 0..height {
        let v = height - 1 - row;
        for u in 0..width {
            let (x, y, z) = match plane {
                Plane::Sagittal => (index, u, v),
                Plane::Coronal => (u, index, v),
                Plane::Axial => (u, v, index),
            };
            let grey = ((volume.at(x, y, z) - range.0) / span).clamp(0.0, 1.0) * 255.0;
            let mut pixel = [grey; 3];
            let class = overlay
                .filter(|l| l.dims == volume.dims)
                .map_or(0, |l| l.at(x, y, z));
            if class > 0 {
                let tint = CLASS_COLOURS[(class as usize - 1) % CLASS_COLOURS.len()];
                for (p, t) in pixel.iter_mut().zip(tint) {
                    *p = *p * (1.0 - TINT) + t as f32 * TINT;
                }
            }
            rgba.extend(pixel.map(|p| p.round() as u8));
            rgba.push(255);
        }
    }
    Image {
        width,
        height,
        rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Volume {
        // dims [2, 3, 4]; value = z (so grey rises towards the top of side views).
        let dims = [2, 3, 4];
        let data = (0..24).map(|i| (i % 4) as f32).collect();
        Volume::new(dims, data).unwrap()
    }

    #[test]
    fn planes_have_the_right_shape_and_z_points_up() {
        let v = ramp();
        let s = slice(&v, (0.0, 3.0), None, Plane::Sagittal, 0);
        assert_eq!((s.width, s.height), (3, 4));
        assert_eq!(s.rgba[0..4], [255, 255, 255, 255], "top row is z = 3");
        assert_eq!(
            s.rgba[s.rgba.len() - 4..],
            [0, 0, 0, 255],
            "bottom row is z = 0"
        );
        let a = slice(&v, (0.0, 3.0), None, Plane::Axial, 99);
        assert_eq!((a.width, a.height), (2, 3));
        assert!(
            a.rgba.chunks(4).all(|p| p[0] == 255),
            "index clamps to the last plane"
        );
    }

    #[test]
    fn labels_are_tinted_and_background_is_not() {
        let v = ramp();
        let mut labels = Labels::new(v.dims, vec![0; 24]).unwrap();
        let i = labels.index(0, 0, 0);
        labels.data[i] = 1;
        let c = slice(&v, (0.0, 3.0), Some(&labels), Plane::Coronal, 0);
        let bottom_left = &c.rgba[(c.height - 1) * c.width * 4..][..4];
        assert_eq!(bottom_left[..3], [104, 26, 32]);
        let bottom_right = &c.rgba[c.rgba.len() - 4..];
        assert_eq!(bottom_right[..3], [0, 0, 0]);
        assert_eq!(intensity_range(&v), (0.0, 3.0));
    }
}
