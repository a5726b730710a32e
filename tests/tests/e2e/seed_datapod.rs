//! Seed 002's routes walked with the document's own example bodies.

use meshfed_e2e::identity::{latest_code, outbox, totp_at, unix_now};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

async fn call(ctx: &Ctx, path: &str, body: Value, auth: Option<&str>) -> (u16, Value) {
    let mut call = ctx.post(path).json(&body);
    if let Some(token) = auth {
        call = call.header("authorization", token);
    }
    let (status, body) = call.send().await.status_json();
    assert!(!body.is_null(), "{path} answers JSON");
    (status, body)
}

fn ok(status: u16, body: &Value) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["error"].as_bool(), body["success"].as_bool()),
        (Some(false), Some(true)),
        "{body}"
    );
}

fn refused(status: u16, body: &Value, code: u16, message: &str) {
    assert_eq!(
        (status, body["message"].as_str()),
        (code, Some(message)),
        "{body}"
    );
    assert_eq!(
        (body["error"].as_bool(), body["success"].as_bool()),
        (Some(true), Some(false))
    );
}

pub fn every_route_with_the_documents_examples(ctx: &Ctx) {
    ctx.block_on(async {
        let signup = json!({"email": "houzier@gmail.com", "password": "Golfurl##45", "name": "Saurav Verma", "username": "graphical"});
        let (status, body) = call(ctx, "/users/signup", signup.clone(), None).await;
        assert_eq!((status, body["msg"].as_str()), (200, Some("Please confirm your signup, check Email for validation code")));
        let (status, body) = call(ctx, "/users/signup", signup.clone(), None).await;
        assert_eq!(status, 401);
        assert!(body["msg"].as_str().unwrap().contains("User already exists"));
        let mut same_email = signup.clone();
        same_email["username"] = json!("graphical_two");
        let (status, body) = call(ctx, "/users/signup", same_email, None).await;
        assert_eq!(status, 400);
        assert!(body["msg"].as_str().unwrap().contains("This email already exists"));
        let mut weak = signup.clone();
        (weak["username"], weak["email"], weak["password"]) = (json!("weakling"), json!("weak@example.org"), json!("golfurl45"));
        let (status, body) = call(ctx, "/users/signup", weak, None).await;
        assert_eq!((status, body["success"].as_bool()), (400, Some(false)));

        let code = latest_code(ctx, "houzier@gmail.com").await;
        let wrong = if code == "007603" { "007604" } else { "007603" };
        let (status, body) = call(ctx, "/users/confirm-signup", json!({"username": "graphical", "code": wrong}), None).await;
        refused(status, &body, 401, "Invalid Verification code");
        let (status, body) = call(ctx, "/users/confirm-signup", json!({"username": "graphical", "code": code}), None).await;
        ok(status, &body);
        assert_eq!(body["message"], "The user has been confirmed, Please sign in");
        let data = &body["data"];
        assert_eq!((data["name"].as_str(), data["email"].as_str()), (Some("Saurav Verma"), Some("houzier@gmail.com")));
        assert_eq!(data["mnemonic"].as_str().unwrap().split(' ').count(), 12);
        assert_eq!(data["public"].as_str().unwrap().len(), 64);
        let mnemonic = data["mnemonic"].as_str().unwrap().to_string();
        let (status, body) = call(ctx, "/users/confirm-signup", json!({"username": "graphical", "code": code}), None).await;
        refused(status, &body, 400, "User is already confirmed");

        let login = json!({"password": "Golfurl##45", "username": "graphical"});
        let (status, body) = call(ctx, "/users/login", login.clone(), None).await;
        ok(status, &body);
        assert_eq!(body["data"]["challenge_name"], "MFA_SETUP");
        assert_eq!(body["data"]["challenge_parameters"]["USER_ID_FOR_SRP"], "graphical");
        let session = body["data"]["session_token"].clone();
        let (status, assoc) = call(ctx, "/users/associate-mfa", json!({"session": session}), None).await;
        ok(status, &assoc);
        let secret = assoc["data"]["secret_code"].as_str().unwrap().to_string();
        let (status, body) = call(ctx, "/users/associate-mfa", json!({"session": session}), None).await;
        refused(status, &body, 400, "A session can be used only once");
        let setup_at = unix_now();
        let verify = json!({"session": assoc["data"]["session_token"], "username": "graphical", "code": totp_at(&secret, setup_at)});
        let (status, verified) = call(ctx, "/users/verify-mfa", verify, None).await;
        ok(status, &verified);
        assert!(verified["data"]["session_token"].is_string());

        let (_, body) = call(ctx, "/users/login", login.clone(), None).await;
        assert_eq!(body["data"]["challenge_name"], "SOFTWARE_TOKEN_MFA");
        let post = json!({"session": body["data"]["session_token"], "username": "graphical", "code": totp_at(&secret, setup_at)});
        let (status, body) = call(ctx, "/users/post-login-mfa", post, None).await;
        refused(status, &body, 400, "Wrong code entered");
        let (_, body) = call(ctx, "/users/login", login.clone(), None).await;
        let post = json!({"session": body["data"]["session_token"], "username": "graphical", "code": totp_at(&secret, setup_at + 30)});
        let (status, tokens) = call(ctx, "/users/post-login-mfa", post, None).await;
        ok(status, &tokens);
        assert_eq!(tokens["data"]["token_type"], "Bearer");
        let access = tokens["data"]["access_token"].as_str().unwrap().to_string();
        let id_token = tokens["data"]["id_token"].as_str().unwrap().to_string();

        let (status, body) = call(ctx, "/users/mfa-settings", json!({"enabled": true, "access_token": access}), None).await;
        ok(status, &body);
        let (status, body) = call(ctx, "/users/mfa-settings", json!({"enabled": false, "access_token": access}), None).await;
        refused(status, &body, 400, "MFA is mandatory on this server");

        let digest = meshfed_shared::auth::mnemonic::digests(&mnemonic).sha3_256_hex;
        let check = json!({"username": "graphical", "mnemonic_sha_256": digest});
        let (status, body) = call(ctx, "/mnemonics/check-mnemonic", check, Some(&id_token)).await;
        ok(status, &body);
        assert_eq!(body["message"], "Mnemonic hash matched");
        let check = json!({"username": "graphical", "mnemonic_sha_256": "2295050486a54d4627cf30f4dc9f6d43d8612c07dd6ea12b08120f8357808fa6"});
        let (status, body) = call(ctx, "/mnemonics/check-mnemonic", check, Some(&id_token)).await;
        refused(status, &body, 400, "sha3_256 hash of mnemonic didnt match");

        let (status, body) = call(ctx, "/users/forgot-password", json!({"username": "graphical"}), None).await;
        ok(status, &body);
        assert_eq!(body["message"], "Please check your Registered email id for validation code");
        assert!(outbox(ctx, "houzier@gmail.com").await[0]["subject"].as_str().unwrap().contains("Reset"));
        let reset_code = latest_code(ctx, "houzier@gmail.com").await;
        let bad = if reset_code == "254764" { "254765" } else { "254764" };
        let confirm = |code: &str| json!({"username": "graphical", "code": code, "newpassword": "Gdoom1234@#"});
        let (status, body) = call(ctx, "/users/confirm-password", confirm(bad), None).await;
        refused(status, &body, 400, "Invalid Verification code");
        let (status, body) = call(ctx, "/users/confirm-password", confirm(&reset_code), None).await;
        ok(status, &body);
        assert_eq!(body["message"], "Password has been changed successfully");
        let (status, body) = call(ctx, "/users/login", login, None).await;
        refused(status, &body, 400, "The username or password is incorrect");
    });
}
