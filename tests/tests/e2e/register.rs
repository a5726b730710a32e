//! Registration and confirmation against the real Worker and D1.

use meshfed_e2e::identity::{latest_code, outbox, registration, unique_user, PASSWORD};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

use crate::errors::expect_failure;

pub fn register_then_confirm_issues_a_mnemonic_once(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = unique_user("reg");
        let resp = ctx
            .post("/api/auth/register")
            .json(&registration(&username, &email))
            .send()
            .await;
        assert_eq!(resp.status, 201);
        let body: Value = resp.json();
        let user = &body["data"];
        assert_eq!(user["username"], username.as_str());
        assert_eq!(user["email"], email.as_str());
        assert_eq!(user["roles"], json!(["user"]));
        assert_eq!(user["is_confirmed"], json!(false));
        assert_eq!(user["mfa_enabled"], json!(false));
        assert!(!body.to_string().contains(PASSWORD), "password echoed");
        assert!(!body.to_string().contains("argon2"), "hash leaked");

        let mail = outbox(ctx, &email).await;
        assert_eq!(mail.len(), 1);
        assert!(mail[0]["subject"].as_str().unwrap().contains("Confirm"));
        let code = latest_code(ctx, &email).await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let confirm = |code: String| {
            ctx.post("/api/auth/confirm")
                .json(&json!({"username": username, "code": code}))
                .send()
        };
        expect_failure(confirm(wrong.into()).await, 401, "AUTHENTICATION_FAILED");

        let resp = confirm(code.clone()).await;
        assert_eq!(resp.status, 200);
        let data: Value = resp.json()["data"].clone();
        let words: Vec<&str> = data["mnemonic"].as_str().unwrap().split(' ').collect();
        assert_eq!(words.len(), 12);
        assert!(words
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
        let public = data["public_key"].as_str().unwrap();
        assert_eq!(public.len(), 64);
        assert!(public.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(data["roles"], json!(["user"]));

        let again = confirm(code).await;
        let body = expect_failure(again, 400, "VALIDATION_ERROR");
        assert_eq!(body["error"]["message"], "User is already confirmed");
    });
}

pub fn register_validates_every_field(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = unique_user("val");
        let cases = [
            ("username", json!({"username": "ab"})),
            ("email", json!({"email": "not-an-email"})),
            ("password", json!({"password": "short"})),
            ("password", json!({"password": "Password1!"})),
            ("password", json!({"password": format!("X{username}9!")})),
            ("first_name", json!({"first_name": ""})),
        ];
        for (field, patch) in cases {
            let mut body = registration(&username, &email);
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            let resp = ctx.post("/api/auth/register").json(&body).send().await;
            let failure = expect_failure(resp, 400, "VALIDATION_ERROR");
            assert_eq!(
                failure["error"]["details"]["field"], field,
                "{patch}: {failure}"
            );
        }
        let resp = ctx
            .post("/api/auth/register")
            .json(&json!({"username": 5}))
            .send()
            .await;
        expect_failure(resp, 400, "VALIDATION_ERROR");
        // Nothing was created: the same username registers fine afterwards.
        let resp = ctx
            .post("/api/auth/register")
            .json(&registration(&username, &email))
            .send()
            .await;
        assert_eq!(resp.status, 201);
    });
}

pub fn duplicate_username_or_email_is_409(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = unique_user("dup");
        let register = |body: Value| ctx.post("/api/auth/register").json(&body).send();
        assert_eq!(register(registration(&username, &email)).await.status, 201);
        let (other_name, other_email) = unique_user("dup");
        let same_name = register(registration(&username.to_uppercase(), &other_email)).await;
        let body = expect_failure(same_name, 409, "USER_EXISTS");
        assert_eq!(body["error"]["details"]["field"], "username");
        let same_email = register(registration(&other_name, &email.to_uppercase())).await;
        let body = expect_failure(same_email, 409, "USER_EXISTS");
        assert_eq!(body["error"]["details"]["field"], "email");
    });
}

pub fn resend_replaces_the_code_and_reveals_nothing(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email) = unique_user("resend");
        let resp = ctx
            .post("/api/auth/register")
            .json(&registration(&username, &email))
            .send()
            .await;
        assert_eq!(resp.status, 201);
        let first = latest_code(ctx, &email).await;
        let resend = |who: &str| {
            ctx.post("/api/auth/confirm/resend")
                .json(&json!({"username": who}))
                .send()
        };
        let known: Value = resend(&username).await.json();
        let unknown: Value = resend("nobody_at_all").await.json();
        assert_eq!(known["message"], unknown["message"]);
        assert_eq!(outbox(ctx, &email).await.len(), 2);
        let second = latest_code(ctx, &email).await;
        let confirm = |code: &str| {
            ctx.post("/api/auth/confirm")
                .json(&json!({"username": username, "code": code}))
                .send()
        };
        if first != second {
            expect_failure(confirm(&first).await, 401, "AUTHENTICATION_FAILED");
        }
        assert_eq!(confirm(&second).await.status, 200);
    });
}
