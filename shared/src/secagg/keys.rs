//! A participant's key material for one round, and what it advertises. From 32 bytes of
//! fresh OS entropy per round, HKDF (bound to the run and round) derives three secrets:
//! `c` (X25519, encrypts the shares sent to each peer), `s` (X25519, agrees the pairwise
//! masks) and `b` (the self-mask seed).

use curve25519_dalek::montgomery::MontgomeryPoint;
use serde::{Deserialize, Serialize};

use super::kdf::{hkdf, RoundContext};
use super::SecAggError;

/// The two public keys a participant advertises for a round (hex in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyAdvert {
    #[serde(with = "hex_array")]
    #[schemars(with = "String", pattern(r"^[0-9a-f]{64}$"))]
    pub c_pk: [u8; 32],
    #[serde(with = "hex_array")]
    #[schemars(with = "String", pattern(r"^[0-9a-f]{64}$"))]
    pub s_pk: [u8; 32],
}

impl KeyAdvert {
    /// Refuses keys that are not usable X25519 public keys (a low-order point makes every
    /// agreement with it all zeros: masks anyone could compute), or two equal keys.
    pub fn check(&self) -> Result<(), SecAggError> {
        for key in [self.c_pk, self.s_pk] {
            // A point of small order times the (cofactor-cleared) clamped scalar is zero.
            if MontgomeryPoint(key).mul_clamped([8u8; 32]).0 == [0u8; 32] {
                return Err(SecAggError::BadKey);
            }
        }
        if self.c_pk == self.s_pk {
            return Err(SecAggError::BadKey);
        }
        Ok(())
    }
}

/// A round's secrets. `Debug` shows nothing of them.
#[derive(Clone)]
pub struct RoundSecrets {
    pub(super) c_sk: [u8; 32],
    pub(super) s_sk: [u8; 32],
    pub(super) b: [u8; 32],
}

impl std::fmt::Debug for RoundSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoundSecrets(<redacted>)")
    }
}

impl RoundSecrets {
    pub fn derive(entropy: &[u8; 32], ctx: &RoundContext) -> Self {
        Self::derive_for_attempt(entropy, ctx, 0)
    }

    /// The secrets of `attempt` (how many times the round's keys started over): an aborted
    /// attempt's keys and masks are never used again.
    pub fn derive_for_attempt(entropy: &[u8; 32], ctx: &RoundContext, attempt: u32) -> Self {
        let who = attempt.to_le_bytes();
        Self {
            c_sk: hkdf(entropy, &ctx.info("c", &who)),
            s_sk: hkdf(entropy, &ctx.info("s", &who)),
            b: hkdf(entropy, &ctx.info("b", &who)),
        }
    }

    pub fn advert(&self) -> KeyAdvert {
        KeyAdvert {
            c_pk: public_key(&self.c_sk),
            s_pk: public_key(&self.s_sk),
        }
    }
}

pub fn public_key(secret: &[u8; 32]) -> [u8; 32] {
    MontgomeryPoint::mul_base_clamped(*secret).0
}

/// X25519(secret, public).
pub fn agree(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    MontgomeryPoint(*public).mul_clamped(*secret).0
}

/// A byte array of any length as lowercase hex (keys: 32 bytes; signatures: 64).
pub(super) mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        bytes.try_into().map_err(|_| {
            serde::de::Error::custom(format!("expected {N} bytes ({} hex digits)", 2 * N))
        })
    }
}

/// Bytes as standard base64 (shares travel by the thousand: a third smaller than hex).
pub(crate) mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, B: AsRef<[u8]>>(v: &B, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v.as_ref()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, B: TryFrom<Vec<u8>>>(
        d: D,
    ) -> Result<B, D::Error> {
        let bytes = STANDARD
            .decode(String::deserialize(d)?)
            .map_err(serde::de::Error::custom)?;
        B::try_from(bytes).map_err(|_| serde::de::Error::custom("wrong length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_symmetric_and_rfc_7748_holds() {
        // RFC 7748 6.1: Alice's and Bob's keys and their shared secret.
        let a: [u8; 32] =
            hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .unwrap()
                .try_into()
                .unwrap();
        let b: [u8; 32] =
            hex::decode("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
                .unwrap()
                .try_into()
                .unwrap();
        let shared = agree(&a, &public_key(&b));
        assert_eq!(shared, agree(&b, &public_key(&a)));
        assert_eq!(
            hex::encode(shared),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        );
    }

    #[test]
    fn secrets_differ_by_round_and_low_order_keys_are_refused() {
        let e = [1u8; 32];
        let r1 = RoundSecrets::derive(&e, &RoundContext { run: 1, round: 1 });
        let r2 = RoundSecrets::derive(&e, &RoundContext { run: 1, round: 2 });
        assert_ne!(r1.advert(), r2.advert());
        assert!(r1.advert().check().is_ok());
        let mut zero = r1.advert();
        zero.s_pk = [0u8; 32];
        assert_eq!(zero.check(), Err(SecAggError::BadKey));
        let mut same = r1.advert();
        same.c_pk = same.s_pk;
        assert_eq!(same.check(), Err(SecAggError::BadKey));
        assert_eq!(format!("{r1:?}"), "RoundSecrets(<redacted>)");
        let json = serde_json::to_string(&r1.advert()).unwrap();
        assert_eq!(
            serde_json::from_str::<KeyAdvert>(&json).unwrap(),
            r1.advert()
        );
    }
}
