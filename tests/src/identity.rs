//! Helpers for identity tests: unique users, the dev outbox, codes from mail.

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

use crate::Ctx;

static USERS: AtomicU32 = AtomicU32::new(0);

/// A new username (unique in this run) and its email address.
pub fn unique_user(prefix: &str) -> (String, String) {
    let n = USERS.fetch_add(1, Ordering::SeqCst);
    let username = format!("{prefix}_{}_{n}", std::process::id() % 10_000);
    let email = format!("{username}@clinic.example.org");
    (username, email)
}

pub const PASSWORD: &str = "Tulip-Harbor-7";

pub fn registration(username: &str, email: &str) -> Value {
    json!({
        "username": username, "email": email, "password": PASSWORD,
        "first_name": "Ada", "last_name": "Lovelace", "organization": "Clinic Example",
    })
}

/// The mail the dev outbox holds for `to`, newest first.
pub async fn outbox(ctx: &Ctx, to: &str) -> Vec<Value> {
    // Test addresses are plain ASCII; only '+' needs escaping in a query.
    let url = format!(
        "{}?to={}",
        ctx.url("/api/_dev/outbox"),
        to.replace('+', "%2B")
    );
    let resp = ctx.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["data"].as_array().expect("outbox is a list").clone()
}

/// The first run of exactly six digits in `text`.
pub fn six_digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let window = &bytes[i..i + 6];
        let before = i
            .checked_sub(1)
            .map(|j| bytes[j].is_ascii_digit())
            .unwrap_or(false);
        let after = bytes.get(i + 6).is_some_and(u8::is_ascii_digit);
        (window.iter().all(u8::is_ascii_digit) && !before && !after)
            .then(|| String::from_utf8_lossy(window).into_owned())
    })
}

/// The code in the newest message to `to`.
pub async fn latest_code(ctx: &Ctx, to: &str) -> String {
    let mail = outbox(ctx, to).await;
    let newest = mail.first().unwrap_or_else(|| panic!("no mail for {to}"));
    six_digits(newest["body"].as_str().unwrap()).expect("a 6-digit code in the mail")
}

/// Registers and confirms a user; returns the confirmation data.
pub async fn registered_and_confirmed(ctx: &Ctx, prefix: &str) -> (String, String, Value) {
    let (username, email) = unique_user(prefix);
    let resp = ctx
        .http
        .post(ctx.url("/api/auth/register"))
        .json(&registration(&username, &email))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let code = latest_code(ctx, &email).await;
    let resp = ctx
        .http
        .post(ctx.url("/api/auth/confirm"))
        .json(&json!({"username": username, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (username, email, body["data"].clone())
}

#[cfg(test)]
mod tests {
    use super::six_digits;

    #[test]
    fn finds_exactly_six_digits() {
        assert_eq!(
            six_digits("Your code is 012345. Valid 15 minutes").as_deref(),
            Some("012345")
        );
        assert_eq!(six_digits("1234567 then 654321").as_deref(), Some("654321"));
        assert_eq!(six_digits("no code"), None);
    }
}
