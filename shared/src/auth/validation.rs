//! Seed 003's input rules, shared by the Worker (authoritative) and the app (live feedback):
//! usernames, emails, names and the password policy.

use serde::{Deserialize, Serialize};

use super::common_passwords;

/// Longest password accepted: bounds the key-derivation cost of a single request.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// One problem with one field, in seed 003's `details` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// 3–50 characters of ASCII letters, digits and underscores.
pub fn username(value: &str) -> Result<(), String> {
    let n = value.chars().count();
    if !(3..=50).contains(&n) {
        return Err("Username must be 3-50 characters long".into());
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("Username may contain only letters, digits and underscores".into());
    }
    Ok(())
}

/// A practical email check: `local@domain.tld`, at most 254 characters, a local part of at
/// most 64 printable characters, and a domain of dot-separated letter/digit/hyphen labels
/// ending in a TLD of two or more letters.
pub fn email(value: &str) -> Result<(), String> {
    let invalid = || Err("Email must be a valid address such as name@example.org".to_string());
    if value.len() > 254 || value.chars().any(char::is_whitespace) {
        return invalid();
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return invalid();
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if local_ok && domain_ok {
        Ok(())
    } else {
        invalid()
    }
}

/// A required name field (first or last name): 1–100 characters, not only spaces.
pub fn name(label: &str, value: &str) -> Result<(), String> {
    let n = value.trim().chars().count();
    if n == 0 || value.chars().count() > 100 {
        return Err(format!("{label} must be 1-100 characters long"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{label} must not contain control characters"));
    }
    Ok(())
}

/// An optional organization: when present, 1–200 characters.
pub fn organization(value: &str) -> Result<(), String> {
    let n = value.trim().chars().count();
    if n == 0 || value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err("Organization must be 1-200 characters long".into());
    }
    Ok(())
}

/// Every rule of seed 003's password policy that `password` breaks, in plain words (empty
/// when it is acceptable). The app shows the list as the person types.
pub fn password_problems(password: &str, username: &str, email: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let n = password.chars().count();
    if n < 8 {
        problems.push("at least 8 characters".to_string());
    }
    if n > MAX_PASSWORD_CHARS {
        problems.push(format!("at most {MAX_PASSWORD_CHARS} characters"));
    }
    let classes = [
        (
            password.chars().any(|c| c.is_uppercase()),
            "an uppercase letter",
        ),
        (
            password.chars().any(|c| c.is_lowercase()),
            "a lowercase letter",
        ),
        (password.chars().any(|c| c.is_ascii_digit()), "a digit"),
        (
            password
                .chars()
                .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
            "a special character",
        ),
    ];
    problems.extend(
        classes
            .iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, what)| what.to_string()),
    );
    if common_passwords::is_common(password) {
        problems.push("not a commonly used password".into());
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if username.chars().count() >= 3 && lower.contains(&username.to_lowercase()) {
        problems.push("not containing the username".into());
    }
    if local.chars().count() >= 3 && lower.contains(&local) {
        problems.push("not containing the email address".into());
    }
    problems
}

/// The password policy as one error message, or `Ok`.
pub fn password(password: &str, username: &str, email: &str) -> Result<(), String> {
    let problems = password_problems(password, username, email);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("Password must have {}", problems.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "john_doe", "A1_", &"x".repeat(50)] {
            assert!(username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "",
            &"x".repeat(51),
            "john-doe",
            "john doe",
            "jöhn",
            "a@b",
        ] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "john@example.com",
            "a.b+tag@sub.example.org",
            "x@y.io",
            "o'neil@ex-ample.co",
        ] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "john",
            "john@",
            "@example.com",
            "john@example",
            "john@@example.com",
            "john@exa mple.com",
            "john@-example.com",
            "john@example.c",
            ".john@example.com",
            "jo..hn@example.com",
            "john@example.123",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn names_and_organization() {
        assert!(name("First name", "John").is_ok());
        assert!(name("First name", "   ").is_err());
        assert!(name("First name", &"x".repeat(101)).is_err());
        assert!(name("Last name", "O\u{7}Neil").is_err());
        assert!(organization("Example Corp").is_ok());
        assert!(organization("").is_err());
        assert!(organization(&"x".repeat(201)).is_err());
    }

    #[test]
    fn seed_example_password_is_accepted() {
        assert_eq!(
            password_problems("SecurePass123!", "johndoe", "john@example.com"),
            Vec::<String>::new()
        );
        assert!(password("Golfurl##45", "graphical", "houzier@gmail.com").is_ok());
    }

    #[test]
    fn each_rule_is_reported() {
        let p = |pw: &str| password_problems(pw, "johndoe", "john.smith@example.com");
        assert!(p("Ab1!").contains(&"at least 8 characters".to_string()));
        assert!(p("abcdefg1!").contains(&"an uppercase letter".to_string()));
        assert!(p("ABCDEFG1!").contains(&"a lowercase letter".to_string()));
        assert!(p("Abcdefgh!").contains(&"a digit".to_string()));
        assert!(p("Abcdefgh1").contains(&"a special character".to_string()));
        assert!(p("Tulip-Harbor7").is_empty(), "{:?}", p("Tulip-Harbor7"));
        assert_eq!(p("Password1!"), ["not a commonly used password"]);
        assert!(p("P@ssw0rd").contains(&"not a commonly used password".to_string()));
        assert!(p("xJohnDoe1!").contains(&"not containing the username".to_string()));
        assert!(p("John.Smith9!").contains(&"not containing the email address".to_string()));
        assert!(
            p(&format!("Aa1!{}", "x".repeat(300))).contains(&"at most 256 characters".to_string())
        );
        assert_eq!(
            password("xq7", "johndoe", "j@x.org").unwrap_err(),
            "Password must have at least 8 characters, an uppercase letter, a special character"
        );
    }
}
