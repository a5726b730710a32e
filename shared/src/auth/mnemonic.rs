//! The 12-word BIP39 mnemonic issued once at confirmation, its Ed25519 key pair and the two
//! digests (sha3-256, sha3-512) that are all the server keeps.

/// The key a recovery phrase derives (re-exported: its users need no ed25519 dependency).
pub use ed25519_dalek::SigningKey;
use sha3::{Digest, Sha3_256, Sha3_512};

use crate::secret::Secret;

/// 128 bits of entropy give 12 words.
pub const ENTROPY_BYTES: usize = 16;

/// What confirmation hands out (once) and what it stores.
#[derive(Debug, Clone)]
pub struct IssuedMnemonic {
    /// The 12 words, shown once; never stored.
    pub phrase: Secret,
    /// Hex of the Ed25519 public key derived from the BIP39 seed (stored).
    pub public_key_hex: String,
    /// Hex of the Ed25519 private key (the seed's first 32 bytes): shown once by the seed 002
    /// route that asks for it; never stored.
    pub private_key_hex: Secret,
    pub digests: MnemonicDigests,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnemonicDigests {
    pub sha3_256_hex: String,
    pub sha3_512_hex: String,
}

/// Builds the mnemonic for `entropy` (the caller supplies fresh random bytes).
pub fn issue(entropy: &[u8; ENTROPY_BYTES]) -> IssuedMnemonic {
    let mnemonic =
        bip39::Mnemonic::from_entropy(entropy).expect("16 bytes is a valid BIP39 entropy size");
    let phrase = mnemonic.to_string();
    let seed = mnemonic.to_seed_normalized("");
    let mut key_bytes = [0u8; 32];
    key_bytes.copy_from_slice(&seed[..32]);
    let signing = SigningKey::from_bytes(&key_bytes);
    IssuedMnemonic {
        public_key_hex: hex::encode(signing.verifying_key().as_bytes()),
        private_key_hex: Secret::new(hex::encode(key_bytes)),
        digests: digests(&phrase),
        phrase: Secret::new(phrase),
    }
}

/// The sha3-256 and sha3-512 hex digests of the phrase as typed (words separated by single
/// spaces, as issued).
pub fn digests(phrase: &str) -> MnemonicDigests {
    MnemonicDigests {
        sha3_256_hex: hex::encode(Sha3_256::digest(phrase.as_bytes())),
        sha3_512_hex: hex::encode(Sha3_512::digest(phrase.as_bytes())),
    }
}

/// The Ed25519 key a recovery phrase derives (as at confirmation), the phrase typed with any
/// spacing or case; `None` when it is not a valid BIP39 phrase.
pub fn signing_key(phrase: &str) -> Option<SigningKey> {
    let words: Vec<String> = phrase.split_whitespace().map(str::to_lowercase).collect();
    let mnemonic =
        bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &words.join(" ")).ok()?;
    let seed = mnemonic.to_seed_normalized("");
    let mut key_bytes = [0u8; 32];
    key_bytes.copy_from_slice(&seed[..32]);
    Some(SigningKey::from_bytes(&key_bytes))
}

/// Whether `phrase` is a valid English BIP39 mnemonic (words and checksum).
pub fn is_valid(phrase: &str) -> bool {
    bip39::Mnemonic::parse_in_normalized(bip39::Language::English, phrase).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bip39_vector_all_zero_entropy() {
        // BIP39's first English test vector (entropy 00…00).
        let issued = issue(&[0u8; 16]);
        assert_eq!(
            issued.phrase.expose(),
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
             abandon about"
        );
        assert!(is_valid(issued.phrase.expose()));
    }

    #[test]
    fn issued_mnemonic_has_12_words_valid_checksum_and_matching_key() {
        let issued = issue(&[0x7f; 16]);
        let phrase = issued.phrase.expose();
        assert_eq!(phrase.split(' ').count(), 12);
        assert!(is_valid(phrase));
        let private: [u8; 32] = hex::decode(issued.private_key_hex.expose())
            .unwrap()
            .try_into()
            .unwrap();
        let public = SigningKey::from_bytes(&private).verifying_key();
        assert_eq!(hex::encode(public.as_bytes()), issued.public_key_hex);
        assert_eq!(issued.public_key_hex.len(), 64);
        assert_eq!(issued.digests, digests(phrase));
        let printed = format!("{issued:?}");
        assert!(!printed.contains(phrase) && !printed.contains(issued.private_key_hex.expose()));
    }

    #[test]
    fn digests_are_sha3() {
        let d = digests("");
        assert_eq!(
            d.sha3_256_hex,
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
        );
        assert!(d
            .sha3_512_hex
            .starts_with("a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"));
        assert_ne!(digests("a").sha3_256_hex, d.sha3_256_hex);
    }

    #[test]
    fn a_wrong_checksum_is_invalid() {
        assert!(!is_valid("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon"));
        assert!(!is_valid("not a mnemonic"));
    }

    #[test]
    fn the_phrase_gives_back_the_key_confirmation_issued() {
        let issued = issue(&[0x21; 16]);
        let typed = format!("  {}  ", issued.phrase.expose().to_uppercase());
        let key = signing_key(&typed).expect("a valid phrase");
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            issued.public_key_hex
        );
        assert!(signing_key("abandon abandon abandon").is_none());
    }
}
