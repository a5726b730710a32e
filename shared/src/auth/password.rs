//! Password hashing with Argon2id at OWASP's first recommended setting (m = 19 MiB, t = 2,
//! p = 1). WebCrypto in workerd caps PBKDF2 at 100,000 iterations, below OWASP's 600,000 for
//! PBKDF2-HMAC-SHA256, so the Worker runs Argon2id itself (in wasm).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;
pub const SALT_BYTES: usize = 16;

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password` with `salt`, which the
/// caller draws fresh from a CSPRNG for every hash.
pub fn hash(password: &str, salt: &[u8; SALT_BYTES]) -> String {
    let salt = SaltString::encode_b64(salt).expect("16 bytes is a valid salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id hashing cannot fail here")
        .to_string()
}

/// Whether `password` matches `phc`. A malformed stored hash never matches. The parameters
/// come from the PHC string, so hashes made with older settings still verify.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A valid hash of a random-looking password, verified against when the user does not exist,
/// so that a login for an unknown user costs as much as one for a known user.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bWVzaGZlZC1kdW1teS1z$0n3r4R7o8mY1zK6mZ5R2w9vJ3bQxGv5hYkzv1xq4Z0c";

/// Whether a stored hash uses weaker parameters than today's and should be re-hashed at the
/// next successful login.
pub fn needs_rehash(phc: &str) -> bool {
    !phc.starts_with(&format!(
        "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}$"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash("SecurePass123!", &[7; SALT_BYTES]);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("SecurePass123!", &phc));
        assert!(!verify("SecurePass123?", &phc));
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn salts_make_hashes_differ() {
        assert_ne!(hash("pw", &[1; SALT_BYTES]), hash("pw", &[2; SALT_BYTES]));
    }

    #[test]
    fn malformed_or_weaker_hashes() {
        assert!(!verify("x", "not a hash"));
        assert!(!verify("x", ""));
        assert!(
            PasswordHash::new(DUMMY_HASH).is_ok(),
            "the dummy hash parses"
        );
        assert!(!verify("", DUMMY_HASH));
        assert!(needs_rehash(
            "$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
    }
}
