//! IEEE 754 half precision <-> f32, round-to-nearest-even, with subnormals, infinities and NaN.

/// Widens a binary16 bit pattern to `f32` exactly.
pub fn to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: value = man * 2^-24; normalise into an f32.
            let shift = man.leading_zeros() - 21; // bring the top set bit to bit 10
            let man = (man << shift) & 0x3ff;
            let exp = 127 - 15 - shift + 1;
            sign | (exp << 23) | (man << 13)
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Narrows an `f32` to the nearest binary16 (ties to even); overflow becomes infinity.
pub fn from_f32(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        let nan = if man != 0 { 0x200 } else { 0 };
        return sign | 0x7c00 | nan;
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let man = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = man & ((1 << shift) - 1);
        let mut out = (man >> shift) as u16;
        if rest > half || (rest == half && out & 1 == 1) {
            out += 1;
        }
        return sign | out;
    }
    let mut out = ((e as u32) << 10 | (man >> 13)) as u16;
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && out & 1 == 1) {
        out += 1; // may carry into the exponent, which is still correct rounding
    }
    sign | out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip() {
        for (h, x) in [
            (0x0000u16, 0.0f32),
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8),
            (0x03ff, 6.097_555e-5),
            (0x0400, 6.103_515_6e-5),
            (0x7c00, f32::INFINITY),
            (0xfc00, f32::NEG_INFINITY),
        ] {
            assert_eq!(to_f32(h), x, "{h:#06x}");
            assert_eq!(from_f32(x), h, "{x}");
        }
        assert!(to_f32(0x7e00).is_nan());
        assert_eq!(from_f32(f32::NAN) & 0x7c00, 0x7c00);
    }

    #[test]
    fn every_half_survives_widening_and_narrowing() {
        for h in 0..=u16::MAX {
            let x = to_f32(h);
            if x.is_nan() {
                continue;
            }
            assert_eq!(from_f32(x), h, "{h:#06x}");
        }
    }

    #[test]
    fn narrowing_rounds_to_nearest_even_and_overflows_to_infinity() {
        assert_eq!(from_f32(1.0 + 1.0 / 2048.0), 0x3c00); // tie → even
        assert_eq!(from_f32(1.0 + 3.0 / 2048.0), 0x3c02); // tie → even (up)
        assert_eq!(from_f32(70000.0), 0x7c00);
        assert_eq!(from_f32(1e-9), 0);
    }
}
