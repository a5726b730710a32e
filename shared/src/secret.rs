//! A value that must never be printed: passwords, codes, tokens, keys.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Holds a secret string. `Debug` prints `[redacted]`; there is no `Display`. Comparison is in
/// constant time. Serialises transparently, so request and response DTOs can carry it.
#[derive(Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (hashing, verifying, sending).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

/// Constant-time equality of two byte strings (the length itself is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-Secret!");
        assert_eq!(format!("{s:?}"), "[redacted]");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            username: String,
            password: Secret,
        }
        let dto = Login {
            username: "jane".into(),
            password: s.clone(),
        };
        let printed = format!("{dto:?} {dto:#?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("jane"));
    }

    #[test]
    fn serde_is_transparent_and_eq_compares_values() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(s.expose(), "abc");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"abc\"");
        assert_eq!(s, Secret::from("abc"));
        assert_ne!(s, Secret::from("abd"));
        assert_ne!(s, Secret::from("abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
