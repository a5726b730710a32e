//! Round keys signed by their owner. A participant signs the keys it advertises for a round
//! with the Ed25519 key its recovery phrase derives (`auth::mnemonic`), whose public half the
//! server stored at confirmation. The server takes no advertisement its owner's key did not
//! sign, so an access token alone (stolen, say) cannot take part in a secure round for
//! someone; and every participant checks each member's signature, against the public keys
//! the round's view shows, before it seals its secrets for them.
//!
//! What is signed binds the keys to the run, the round and the attempt, so an advertisement
//! cannot be replayed into another round or a round that started over.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{KeyAdvert, RoundContext, SecAggError};

/// The bytes a participant signs: a domain tag, run, round, attempt and both keys.
pub fn message(ctx: &RoundContext, attempt: u32, keys: &KeyAdvert) -> Vec<u8> {
    let mut m = b"meshfed secure aggregation round keys v1".to_vec();
    m.extend_from_slice(&ctx.run.to_le_bytes());
    m.extend_from_slice(&ctx.round.to_le_bytes());
    m.extend_from_slice(&attempt.to_le_bytes());
    m.extend_from_slice(&keys.c_pk);
    m.extend_from_slice(&keys.s_pk);
    m
}

/// `POST …/secure/keys`: the round's two public keys and their owner's signature of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignedKeys {
    #[serde(flatten)]
    pub keys: KeyAdvert,
    /// Ed25519 over [`message`], hex (128 digits).
    #[serde(with = "super::keys::hex_array")]
    #[schemars(with = "String", pattern(r"^[0-9a-f]{128}$"))]
    pub signature: [u8; 64],
}

impl SignedKeys {
    pub fn sign(identity: &SigningKey, ctx: &RoundContext, attempt: u32, keys: KeyAdvert) -> Self {
        let signature = identity.sign(&message(ctx, attempt, &keys)).to_bytes();
        Self { keys, signature }
    }

    /// Whether the owner of `public_key` (32 bytes) signed these keys for this attempt.
    pub fn verify(
        &self,
        public_key: &[u8],
        ctx: &RoundContext,
        attempt: u32,
    ) -> Result<(), SecAggError> {
        let key: [u8; 32] = public_key.try_into().map_err(|_| SecAggError::Unsigned)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| SecAggError::Unsigned)?;
        key.verify_strict(
            &message(ctx, attempt, &self.keys),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| SecAggError::Unsigned)
    }
}

/// A member's signature of its keys as the round's view shows it, with the public key it
/// verifies against (hex) and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberSignature {
    pub x: u8,
    pub username: String,
    pub public_key: String,
    #[serde(with = "super::keys::hex_array")]
    #[schemars(with = "String", pattern(r"^[0-9a-f]{128}$"))]
    pub signature: [u8; 64],
}

/// What two people compare out of band (by phone, in person) the first time they share a
/// secure round, before either trusts the key the server showed: SHA-256 over a domain tag
/// and the recovery phrase's Ed25519 public key, its first 80 bits as five groups of four hex
/// digits (`3f2a 91bc 0d7e 55a1 c2f0`). Posing as someone behind the same fingerprint takes
/// about 2⁸⁰ tries at keys.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(b"meshfed key fingerprint v1\0")
        .chain_update(public_key)
        .finalize();
    let groups: Vec<String> = digest[..10].chunks(2).map(hex::encode).collect();
    groups.join(" ")
}

impl MemberSignature {
    /// The [`fingerprint`] of the member's key; `None` when it is not 64 hex digits.
    pub fn fingerprint(&self) -> Option<String> {
        let bytes: [u8; 32] = hex::decode(&self.public_key).ok()?.try_into().ok()?;
        Some(fingerprint(&bytes))
    }
}

/// Each member's public key as this participant first saw it (trust on first use). A
/// recovery phrase's key never changes, so a key that differs later for the same username
/// means someone, the server or whoever controls it, is posing as that member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownKeys(pub BTreeMap<String, String>);

impl KnownKeys {
    /// Pins the round's members' keys; refuses the round if a member's key is not the one
    /// pinned for them. Answers the members seen for the first time (their fingerprints are
    /// for people to check).
    pub fn pin<'a>(
        &mut self,
        signatures: &'a [MemberSignature],
    ) -> Result<Vec<&'a MemberSignature>, SecAggError> {
        if let Some(changed) = signatures
            .iter()
            .find(|s| self.0.get(&s.username).is_some_and(|k| *k != s.public_key))
        {
            return Err(SecAggError::KeyChanged {
                username: changed.username.clone(),
            });
        }
        let mut new = vec![];
        for s in signatures {
            if self
                .0
                .insert(s.username.clone(), s.public_key.clone())
                .is_none()
            {
                new.push(s);
            }
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::mnemonic;
    use crate::secagg::RoundSecrets;

    #[test]
    fn only_the_owner_signs_keys_for_one_attempt_of_one_round() {
        let issued = mnemonic::issue(&[5; 16]);
        let owner = mnemonic::signing_key(issued.phrase.expose()).unwrap();
        let public = hex::decode(&issued.public_key_hex).unwrap();
        let ctx = RoundContext { run: 4, round: 2 };
        let keys = RoundSecrets::derive(&[1; 32], &ctx).advert();
        let signed = SignedKeys::sign(&owner, &ctx, 0, keys);
        assert_eq!(signed.verify(&public, &ctx, 0), Ok(()));
        // Another round, another attempt, other keys, another signer: refused.
        let later = RoundContext { run: 4, round: 3 };
        assert_eq!(
            signed.verify(&public, &later, 0),
            Err(SecAggError::Unsigned)
        );
        assert_eq!(signed.verify(&public, &ctx, 1), Err(SecAggError::Unsigned));
        let mut swapped = signed.clone();
        swapped.keys = RoundSecrets::derive(&[2; 32], &ctx).advert();
        assert_eq!(swapped.verify(&public, &ctx, 0), Err(SecAggError::Unsigned));
        let other = mnemonic::signing_key(mnemonic::issue(&[6; 16]).phrase.expose()).unwrap();
        let forged = SignedKeys::sign(&other, &ctx, 0, keys);
        assert_eq!(forged.verify(&public, &ctx, 0), Err(SecAggError::Unsigned));
        assert_eq!(
            signed.verify(&public[..31], &ctx, 0),
            Err(SecAggError::Unsigned)
        );
        // In JSON: the two keys and the signature side by side.
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(json["signature"].as_str().unwrap().len(), 128);
        assert!(json["c_pk"].is_string() && json["s_pk"].is_string());
        let back: SignedKeys = serde_json::from_value(json).unwrap();
        assert_eq!(back, signed);
    }

    #[test]
    fn a_members_key_is_pinned_on_first_sight_and_may_not_change() {
        let member = |username: &str, key: &str| MemberSignature {
            x: 1,
            username: username.into(),
            public_key: key.repeat(64),
            signature: [0; 64],
        };
        let mut known = KnownKeys::default();
        let names = |pinned: Result<Vec<&MemberSignature>, SecAggError>| -> Vec<String> {
            pinned.unwrap().iter().map(|m| m.username.clone()).collect()
        };
        let first = [member("ada", "a"), member("bo", "b")];
        assert_eq!(names(known.pin(&first)), ["ada", "bo"]);
        let second = [member("ada", "a"), member("cy", "c")];
        assert_eq!(names(known.pin(&second)), ["cy"]);
        let third = [member("cy", "c"), member("bo", "d")];
        let swapped = known.pin(&third);
        assert_eq!(
            swapped,
            Err(SecAggError::KeyChanged {
                username: "bo".into()
            })
        );
        assert_eq!(known.0.len(), 3, "nothing pinned from a refused round");
        assert_eq!(known.0["bo"], "b".repeat(64));
    }

    #[test]
    fn a_fingerprint_is_five_groups_of_four_hex_digits_of_the_key() {
        let issued = mnemonic::issue(&[5; 16]);
        let key = mnemonic::signing_key(issued.phrase.expose()).unwrap();
        let public = key.verifying_key().to_bytes();
        let printed = fingerprint(&public);
        let groups: Vec<&str> = printed.split(' ').collect();
        assert_eq!(groups.len(), 5, "{printed}");
        assert!(groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit())));
        // Bound to the key: one bit apart, a different fingerprint.
        let mut other = public;
        other[0] ^= 1;
        assert_ne!(fingerprint(&other), printed);
        let member = MemberSignature {
            x: 1,
            username: "ada".into(),
            public_key: issued.public_key_hex.clone(),
            signature: [0; 64],
        };
        assert_eq!(member.fingerprint(), Some(printed));
        let garbled = MemberSignature {
            public_key: "zz".into(),
            ..member
        };
        assert_eq!(garbled.fingerprint(), None);
    }
}
