//! JWTs signed with Ed25519 (`alg: EdDSA`) and a `kid`. Verification pins the algorithm (never
//! `none` or HS*), finds the key by `kid`, and checks the signature, `exp`, `nbf`, `iss`,
//! `aud` and `type`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The only algorithm issued or accepted.
pub const ALG: &str = "EdDSA";

/// Seed 003's access-token claims plus `iss`, `aud` and `nbf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub user_id: String,
    pub email: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// `access` or `id`.
    #[serde(rename = "type")]
    pub token_type: String,
    /// The sign-in session (refresh-token family) that issued the token: when the family is
    /// revoked (logout, reuse of a rotated refresh token) every token it issued is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is malformed")]
    Malformed,
    #[error("token algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("token key is unknown")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is wrong")]
    WrongIssuer,
    #[error("token audience is wrong")]
    WrongAudience,
    #[error("token type is wrong")]
    WrongType,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Signs `claims` with `key`, naming it `kid` in the header.
pub fn sign(claims: &Claims, key: &SigningKey, kid: &str) -> String {
    let header = Header {
        alg: ALG.into(),
        typ: "JWT".into(),
        kid: kid.into(),
    };
    let header = B64.encode(serde_json::to_vec(&header).expect("header serialises"));
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
    let signing_input = format!("{header}.{payload}");
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
}

/// What a verifier insists on.
#[derive(Debug, Clone)]
pub struct Expectation<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub token_type: &'a str,
    pub now: i64,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    pub leeway: i64,
}

/// Verifies `token` and returns its claims. `key_for` maps a `kid` to its public key.
pub fn verify(
    token: &str,
    key_for: impl Fn(&str) -> Option<VerifyingKey>,
    expect: &Expectation<'_>,
) -> Result<Claims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = decode_json(h)?;
    if header.alg != ALG {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    let key = key_for(&header.kid).ok_or(JwtError::UnknownKey)?;
    let sig_bytes: [u8; 64] = B64
        .decode(s)
        .map_err(|_| JwtError::Malformed)?
        .try_into()
        .map_err(|_| JwtError::Malformed)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    key.verify(signing_input.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| JwtError::BadSignature)?;
    let claims: Claims = decode_json(p)?;
    if claims.exp <= expect.now - expect.leeway {
        return Err(JwtError::Expired);
    }
    if claims.nbf > expect.now + expect.leeway {
        return Err(JwtError::NotYetValid);
    }
    if claims.iss != expect.issuer {
        return Err(JwtError::WrongIssuer);
    }
    if claims.aud != expect.audience {
        return Err(JwtError::WrongAudience);
    }
    if claims.token_type != expect.token_type {
        return Err(JwtError::WrongType);
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let bytes = B64.decode(part).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// The public key as a JWK for `/.well-known/jwks.json` (RFC 8037 OKP).
pub fn jwk(kid: &str, key: &VerifyingKey) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": ALG, "use": "sig", "kid": kid,
        "x": B64.encode(key.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn claims(now: i64) -> Claims {
        Claims {
            sub: "johndoe".into(),
            user_id: "u1".into(),
            email: "john@example.com".into(),
            roles: vec!["user".into()],
            permissions: vec!["read:projects".into()],
            iat: now,
            nbf: now,
            exp: now + 1800,
            iss: "meshfed".into(),
            aud: "meshfed-api".into(),
            jti: "j1".into(),
            token_type: "access".into(),
            sid: Some("f1".into()),
        }
    }

    fn expect(now: i64) -> Expectation<'static> {
        Expectation {
            issuer: "meshfed",
            audience: "meshfed-api",
            token_type: "access",
            now,
            leeway: 0,
        }
    }

    fn keys(kid: &str) -> Option<VerifyingKey> {
        (kid == "k1").then(|| key(1).verifying_key())
    }

    #[test]
    fn round_trip() {
        let token = sign(&claims(1000), &key(1), "k1");
        assert_eq!(verify(&token, keys, &expect(1000)).unwrap(), claims(1000));
    }

    #[test]
    fn refuses_expired_early_and_mismatched_claims() {
        let token = sign(&claims(1000), &key(1), "k1");
        assert_eq!(verify(&token, keys, &expect(2800)), Err(JwtError::Expired));
        assert_eq!(
            verify(&token, keys, &expect(999)),
            Err(JwtError::NotYetValid)
        );
        let e = Expectation {
            audience: "other",
            ..expect(1000)
        };
        assert_eq!(verify(&token, keys, &e), Err(JwtError::WrongAudience));
        let e = Expectation {
            issuer: "evil",
            ..expect(1000)
        };
        assert_eq!(verify(&token, keys, &e), Err(JwtError::WrongIssuer));
        let e = Expectation {
            token_type: "id",
            ..expect(1000)
        };
        assert_eq!(verify(&token, keys, &e), Err(JwtError::WrongType));
    }

    #[test]
    fn refuses_tampering_other_keys_and_none_or_hs256() {
        let token = sign(&claims(1000), &key(1), "k1");
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims(1000);
        forged.roles = vec!["admin".into()];
        let forged_payload = B64.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(
            verify(&tampered, keys, &expect(1000)),
            Err(JwtError::BadSignature)
        );

        let other = sign(&claims(1000), &key(2), "k1");
        assert_eq!(
            verify(&other, keys, &expect(1000)),
            Err(JwtError::BadSignature)
        );
        let unknown = sign(&claims(1000), &key(1), "k9");
        assert_eq!(
            verify(&unknown, keys, &expect(1000)),
            Err(JwtError::UnknownKey)
        );

        for alg in ["none", "HS256", "RS256"] {
            let header = B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"k1"}}"#));
            let forged = format!("{header}.{}.", parts[1]);
            assert_eq!(
                verify(&forged, keys, &expect(1000)),
                Err(JwtError::AlgorithmNotAllowed),
                "{alg}"
            );
        }
        for junk in ["", "a.b", "a.b.c.d", "!!.??.**"] {
            assert_eq!(
                verify(junk, keys, &expect(1000)),
                Err(JwtError::Malformed),
                "{junk}"
            );
        }
    }

    #[test]
    fn jwk_carries_the_public_key() {
        let jwk = jwk("k1", &key(1).verifying_key());
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        let x = B64.decode(jwk["x"].as_str().unwrap()).unwrap();
        assert_eq!(x, key(1).verifying_key().as_bytes());
    }
}
