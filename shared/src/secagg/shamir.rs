//! Shamir's t-of-n secret sharing of 32-byte secrets over GF(2⁸) (the AES field), byte by
//! byte: any `t` shares give the secret back, fewer reveal nothing about it. Participant `x`
//! (1..=255) holds the polynomials' values at `x`.

/// One participant's share of a secret: the value of each byte's polynomial at `x`.
#[derive(Clone, PartialEq, Eq)]
pub struct Share {
    pub x: u8,
    pub y: [u8; 32],
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Share {{ x: {}, y: <redacted> }}", self.x)
    }
}

fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    p
}

fn inverse(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    let mut base = a;
    let mut e = 254u8;
    while e > 0 {
        if e & 1 != 0 {
            result = mul(result, base);
        }
        base = mul(base, base);
        e >>= 1;
    }
    result
}

/// Shares of `secret` for each of `xs` (distinct, non-zero), any `threshold` of which
/// rebuild it. `coefficients` supplies the random polynomial coefficients, 32 per degree
/// above zero (`(threshold - 1) * 32` bytes).
pub fn split(secret: &[u8; 32], threshold: usize, xs: &[u8], coefficients: &[u8]) -> Vec<Share> {
    assert!(threshold >= 1 && coefficients.len() >= (threshold - 1) * 32);
    xs.iter()
        .map(|&x| {
            assert_ne!(x, 0, "x = 0 would be the secret itself");
            let mut y = [0u8; 32];
            for (i, out) in y.iter_mut().enumerate() {
                // Horner from the highest degree down to the secret.
                let mut acc = 0u8;
                for d in (1..threshold).rev() {
                    acc = mul(acc, x) ^ coefficients[(d - 1) * 32 + i];
                }
                *out = mul(acc, x) ^ secret[i];
            }
            Share { x, y }
        })
        .collect()
}

/// The secret from `shares` (Lagrange interpolation at 0); `None` with two shares at one x.
/// With fewer shares than the threshold the answer is a wrong secret: callers check it.
pub fn combine(shares: &[Share]) -> Option<[u8; 32]> {
    let mut secret = [0u8; 32];
    for (j, sj) in shares.iter().enumerate() {
        let mut basis = 1u8; // l_j(0) = Π x_m / (x_m − x_j), and − is ⊕ here
        for (m, sm) in shares.iter().enumerate() {
            if m != j {
                let denominator = sm.x ^ sj.x;
                if denominator == 0 {
                    return None;
                }
                basis = mul(basis, mul(sm.x, inverse(denominator)));
            }
        }
        for (out, &y) in secret.iter_mut().zip(&sj.y) {
            *out ^= mul(basis, y);
        }
    }
    Some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_inverse_and_known_product() {
        assert_eq!(mul(0x57, 0x83), 0xc1, "FIPS-197's example");
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "{a}");
        }
    }

    #[test]
    fn any_t_shares_rebuild_the_secret_and_fewer_do_not() {
        let secret: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let coefficients: Vec<u8> = (0..64).map(|i| (i * 13 + 5) as u8).collect();
        let shares = split(&secret, 3, &[1, 2, 3, 4, 5], &coefficients);
        for pick in [[0, 1, 2], [1, 3, 4], [4, 2, 0]] {
            let some: Vec<Share> = pick.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(combine(&some), Some(secret));
        }
        assert_ne!(
            combine(&shares[..2]),
            Some(secret),
            "two of a 3-of-5 sharing"
        );
        assert_eq!(combine(&shares), Some(secret), "more than t also works");
        let twice = [shares[0].clone(), shares[0].clone()];
        assert_eq!(combine(&twice), None);
        assert!(format!("{:?}", shares[0]).contains("redacted"));
    }
}
