//! Updates as fixed-point elements of Z/2³²: a value x travels as round(x · 2^SCALE_BITS)
//! modulo 2³², so masks that cancel in the ring leave the exact sum of the encoded values.
//! The sum of N uploads is read back as a signed 32-bit number; each value is clamped to
//! ±(2³¹ − 1) / (N · 2^SCALE_BITS) so that no sum of N can wrap. Rounding costs at most
//! 2^−(SCALE_BITS+1) per value per upload: with 24 bits, 3e-8 each.

/// Fractional bits of the default encoding.
pub const SCALE_BITS: u32 = 24;

/// The largest encoded magnitude one of `participants` uploads may carry.
fn bound(participants: usize) -> i64 {
    i32::MAX as i64 / participants.max(1) as i64
}

/// The largest magnitude one of `participants` uploads may carry.
pub fn limit(participants: usize) -> f64 {
    bound(participants) as f64 / (1u64 << SCALE_BITS) as f64
}

/// x in Z/2³² (clamped to [`limit`]; NaN as 0).
pub fn encode(x: f64, participants: usize) -> u32 {
    let b = bound(participants);
    let scaled = if x.is_nan() {
        0
    } else {
        // `as` saturates: ±∞ and huge values land on i64's ends, then on ±b.
        ((x * (1u64 << SCALE_BITS) as f64).round() as i64).clamp(-b, b)
    };
    scaled as i32 as u32
}

/// The real number a sum of encoded values stands for.
pub fn decode(sum: u32) -> f64 {
    sum as i32 as f64 / (1u64 << SCALE_BITS) as f64
}

/// The largest rounding error of a sum of `uploads` encoded values.
pub fn sum_error_bound(uploads: usize) -> f64 {
    uploads as f64 / (1u64 << (SCALE_BITS + 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_of_encoded_values_decode_to_the_sum() {
        let xs = [0.123456789, -3.5, 1e-9, 7.25];
        let sum = xs.iter().fold(0u32, |s, &x| s.wrapping_add(encode(x, 4)));
        let exact: f64 = xs.iter().sum();
        assert!(
            (decode(sum) - exact).abs() <= sum_error_bound(4),
            "{}",
            decode(sum)
        );
    }

    #[test]
    fn values_are_clamped_so_that_no_sum_wraps() {
        let n = 16;
        let sum = (0..n).fold(0u32, |s, _| s.wrapping_add(encode(1e9, n)));
        assert!(decode(sum) > 0.0 && (decode(sum) - limit(n) * n as f64).abs() < 1e-3);
        let sum = (0..n).fold(0u32, |s, _| s.wrapping_add(encode(-1e9, n)));
        assert!(decode(sum) < 0.0);
        assert_eq!(encode(f64::NAN, n), 0);
    }
}
