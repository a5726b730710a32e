//! Emailed codes against guessing and account enumeration: `reset-password` answers an unknown
//! account exactly as a known one until the right code is shown (rules about the account are
//! told only to the code's holder, and do not burn the code), and asking for a new code gives
//! a guesser no fresh attempts.

use meshfed_e2e::identity::{latest_code, post, registered_and_confirmed};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

const GOOD: &str = "Marble-Canyon-42";

fn reset(username: &str, code: &str, password: &str) -> Value {
    json!({"username": username, "code": code, "new_password": password, "confirm_password": password})
}

fn wrong_for(code: &str) -> &'static str {
    if code == "123456" {
        "654321"
    } else {
        "123456"
    }
}

async fn forgot(ctx: &Ctx, email: &str) -> String {
    let (status, body) = post(
        ctx,
        "/api/auth/forgot-password",
        json!({"email": email}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    latest_code(ctx, email).await
}

pub fn reset_answers_alike_for_unknown_accounts_and_resends_keep_the_count(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, email, _) = registered_and_confirmed(ctx, "enum").await;
        let code = forgot(ctx, &email).await;
        let wrong = wrong_for(&code);
        let nobody = format!("{username}-nobody");
        // A weak password, and a password that contains the username, each with a wrong code:
        // the same status and error for the account and for a name nobody has.
        let weak = "password".to_string();
        let named = format!("{username}-Aa1!");
        for password in [&weak, &named] {
            let (s1, known) = post(
                ctx,
                "/api/auth/reset-password",
                reset(&username, wrong, password),
                None,
            )
            .await;
            let (s2, unknown) = post(
                ctx,
                "/api/auth/reset-password",
                reset(&nobody, wrong, password),
                None,
            )
            .await;
            assert_eq!(
                (s1, &known["error"]),
                (s2, &unknown["error"]),
                "{password}: {known} / {unknown}"
            );
        }
        // Only the code's holder hears about the username in the password, and keeps the code.
        let (status, told) = post(
            ctx,
            "/api/auth/reset-password",
            reset(&username, &code, &named),
            None,
        )
        .await;
        assert_eq!(
            (status, told["error"]["details"]["field"].as_str()),
            (400, Some("new_password")),
            "{told}"
        );
        assert!(
            told["error"]["message"]
                .as_str()
                .unwrap()
                .contains("username"),
            "{told}"
        );
        let (status, done) = post(
            ctx,
            "/api/auth/reset-password",
            reset(&username, &code, GOOD),
            None,
        )
        .await;
        assert_eq!(
            status, 200,
            "the refused password did not burn the code: {done}"
        );

        // Four wrong guesses, a new code asked for, one more wrong guess: five in all, so the
        // new code is void even when right.
        let (username, email, _) = registered_and_confirmed(ctx, "resend").await;
        let first = forgot(ctx, &email).await;
        for _ in 0..4 {
            let (status, _) = post(
                ctx,
                "/api/auth/reset-password",
                reset(&username, wrong_for(&first), GOOD),
                None,
            )
            .await;
            assert_eq!(status, 401);
        }
        let second = forgot(ctx, &email).await;
        assert_eq!(
            post(
                ctx,
                "/api/auth/reset-password",
                reset(&username, wrong_for(&second), GOOD),
                None
            )
            .await
            .0,
            401
        );
        let (status, body) = post(
            ctx,
            "/api/auth/reset-password",
            reset(&username, &second, GOOD),
            None,
        )
        .await;
        assert_eq!(
            status, 401,
            "five wrong guesses across a resend void the code: {body}"
        );
    });
}
