//! `/api/auth/…` bodies: registration, confirmation, login and MFA, tokens, profile.

use serde::{Deserialize, Serialize};

use crate::auth::validation::{self, FieldError};
use crate::secret::Secret;

/// `POST /api/auth/register`. `name` (seed 002) is accepted in place of first/last name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegisterRequest {
    #[schemars(length(min = 3, max = 50), pattern(r"^[A-Za-z0-9_]+$"))]
    pub username: String,
    #[schemars(email)]
    pub email: String,
    #[schemars(length(min = 8), extend("writeOnly" = true))]
    pub password: Secret,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 100))]
    pub last_name: Option<String>,
    /// Seed 002: split into first and last name.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub organization: Option<String>,
}

/// A registration after `name` has been split and every rule checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRegistration {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: Option<String>,
}

impl RegisterRequest {
    /// First and last name: as given, or split from `name` at its first space (a one-word
    /// name becomes the first name and the last name alike).
    pub fn names(&self) -> (String, String) {
        if self.first_name.is_some() || self.last_name.is_some() {
            let first = self.first_name.clone().unwrap_or_default();
            let last = self.last_name.clone().unwrap_or_default();
            return (first.trim().to_string(), last.trim().to_string());
        }
        let name = self.name.as_deref().unwrap_or_default().trim();
        match name.split_once(' ') {
            Some((first, last)) => (first.to_string(), last.trim().to_string()),
            None => (name.to_string(), name.to_string()),
        }
    }

    /// Seed 003's rules for every field; all problems, field by field.
    pub fn validate(&self) -> Result<ValidRegistration, Vec<FieldError>> {
        let mut errors = Vec::new();
        let username = self.username.trim().to_string();
        let email = self.email.trim().to_string();
        let (first_name, last_name) = self.names();
        let organization = self
            .organization
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from);
        let checks = [
            ("username", validation::username(&username)),
            ("email", validation::email(&email)),
            (
                "password",
                validation::password(self.password.expose(), &username, &email),
            ),
            ("first_name", validation::name("First name", &first_name)),
            ("last_name", validation::name("Last name", &last_name)),
            (
                "organization",
                organization
                    .as_deref()
                    .map_or(Ok(()), validation::organization),
            ),
        ];
        for (field, result) in checks {
            if let Err(reason) = result {
                errors.push(FieldError::new(field, reason));
            }
        }
        if errors.is_empty() {
            Ok(ValidRegistration {
                username,
                email,
                first_name,
                last_name,
                organization,
            })
        } else {
            Err(errors)
        }
    }
}

/// A user as the API shows them (seed 003's `data` of register and me).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserProfile {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub organization: Option<String>,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub created_at: String,
    pub last_login: Option<String>,
    pub is_active: bool,
    pub is_confirmed: bool,
    pub mfa_enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RegisterRequest {
        RegisterRequest {
            username: "johndoe".into(),
            email: "john@example.com".into(),
            password: Secret::new("SecurePass123!"),
            first_name: Some("John".into()),
            last_name: Some("Doe".into()),
            organization: Some("Example Corp".into()),
            ..Default::default()
        }
    }

    #[test]
    fn seed_003_example_is_valid() {
        let valid = request().validate().unwrap();
        assert_eq!(valid.first_name, "John");
        assert_eq!(valid.organization.as_deref(), Some("Example Corp"));
    }

    #[test]
    fn seed_002_name_is_split() {
        let r = RegisterRequest {
            username: "graphical".into(),
            email: "houzier@gmail.com".into(),
            password: Secret::new("Golfurl##45"),
            name: Some("Saurav Verma".into()),
            ..Default::default()
        };
        let valid = r.validate().unwrap();
        assert_eq!(
            (valid.first_name.as_str(), valid.last_name.as_str()),
            ("Saurav", "Verma")
        );
        let one = RegisterRequest {
            name: Some("Plato".into()),
            ..r
        };
        assert_eq!(one.names(), ("Plato".to_string(), "Plato".to_string()));
    }

    #[test]
    fn every_bad_field_is_reported_and_debug_hides_the_password() {
        let r = RegisterRequest {
            username: "x".into(),
            email: "nope".into(),
            password: Secret::new("short"),
            first_name: Some("".into()),
            last_name: Some("Doe".into()),
            ..Default::default()
        };
        let fields: Vec<String> = r
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["username", "email", "password", "first_name"]);
        assert!(!format!("{:?}", request()).contains("SecurePass123!"));
    }
}

/// Returned once, at confirmation: the only time the mnemonic (and its private key) exist
/// outside the person's own records.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Confirmation {
    pub username: String,
    pub email: String,
    /// 12 BIP39 words, shown once.
    pub mnemonic: Secret,
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub public_key: String,
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub private_key: Secret,
    pub roles: Vec<String>,
}

/// `POST /api/auth/mfa/setup`: shown once.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MfaSetup {
    pub secret: Secret,
    pub otpauth_uri: Secret,
    pub qr_code: Secret,
    pub backup_codes: Vec<Secret>,
    /// In the sign-in flow: the session for `/mfa/verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Secret>,
}

/// `GET /api/users`: a confirmed, enabled user who can be invited to a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryEntry {
    pub username: String,
    pub email: String,
}

/// `GET /api/admin/audit`: one security event (`at` in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<String>,
    pub event: String,
    pub client: Option<String>,
    pub detail: Option<String>,
}

/// `POST /api/auth/login`. `username` may be the email address; `mfa_token` (seed 003) lets
/// a client with MFA enabled sign in in one call.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginRequest {
    /// The username or the email address.
    pub username: String,
    #[schemars(extend("writeOnly" = true))]
    pub password: Secret,
    /// The TOTP code, when MFA is on.
    #[serde(default)]
    pub mfa_token: Option<Secret>,
}

/// The user as tokens describe them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserSummary {
    pub id: String,
    pub username: String,
    pub email: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// A successful sign-in or refresh.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenSet {
    pub access_token: Secret,
    pub id_token: Secret,
    pub refresh_token: Secret,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: UserSummary,
}

/// The challenge names (Cognito's, as seeds 000/001/002 use them).
pub const CHALLENGE_MFA_SETUP: &str = "MFA_SETUP";
pub const CHALLENGE_SOFTWARE_TOKEN: &str = "SOFTWARE_TOKEN_MFA";

/// Sign-in needs a second step: set MFA up, or answer a TOTP challenge, with `session`
/// (usable once, for 3 minutes).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginChallenge {
    pub requires_mfa: bool,
    pub challenge: String,
    pub session: Secret,
    /// Seed 003's name for the same session.
    pub temp_token: Secret,
    pub mfa_methods: Vec<String>,
}
