//! Backup capabilities: scoped to the holder's own folder, and good for nothing else.

use meshfed_e2e::identity::{post, user_with_mfa};
use meshfed_e2e::Ctx;
use serde_json::{json, Value};

pub fn capability_reaches_only_its_own_prefix(ctx: &Ctx) {
    ctx.block_on(async {
        let alice = user_with_mfa(ctx, "bk_alice").await;
        let bob = user_with_mfa(ctx, "bk_bob").await;
        let access = |u: &meshfed_e2e::identity::MfaUser| {
            u.tokens["access_token"].as_str().unwrap().to_string()
        };
        let (status, cap) = post(
            ctx,
            "/api/auth/backup-credentials",
            json!({}),
            Some(&access(&alice)),
        )
        .await;
        assert_eq!(status, 200, "{cap}");
        let alice_cap = cap["data"]["token"].as_str().unwrap().to_string();
        assert_eq!(
            cap["data"]["prefix"],
            format!("backups/{}/", alice.tokens["user"]["id"].as_str().unwrap())
        );
        let (_, cap) = post(
            ctx,
            "/api/auth/backup-credentials",
            json!({}),
            Some(&access(&bob)),
        )
        .await;
        let bob_cap = cap["data"]["token"].as_str().unwrap().to_string();

        let object = "/api/backup/objects/models/round-1.safetensors";
        let put = ctx
            .put(object)
            .bearer(&alice_cap)
            .body(vec![7u8; 1000])
            .send()
            .await;
        assert_eq!(put.status, 201);
        let got = ctx.get(object).bearer(&alice_cap).send().await;
        assert_eq!(got.status, 200);
        assert_eq!(got.bytes.clone(), vec![7u8; 1000]);
        let list: Value = ctx
            .get("/api/backup/objects")
            .bearer(&alice_cap)
            .send()
            .await
            .json();
        assert_eq!(
            list["data"],
            json!([{"key": "models/round-1.safetensors", "size": 1000}])
        );

        // Bob's capability addresses Bob's folder: Alice's object is not there.
        let theirs = ctx.get(object).bearer(&bob_cap).send().await;
        assert_eq!(theirs.status, 404);
        let bob_list: Value = ctx
            .get("/api/backup/objects")
            .bearer(&bob_cap)
            .send()
            .await
            .json();
        assert_eq!(bob_list["data"], json!([]));
        // Empty segments are refused; dot segments never arrive (clients normalise them,
        // `valid_key`'s unit tests cover them), so `../x` is another route entirely.
        for (key, expected) in [("a//b", 400), ("dir/", 400), ("../x", 404)] {
            let url = format!("/api/backup/objects/{key}");
            let resp = ctx.put(&url).bearer(&alice_cap).body("x").send().await;
            assert_eq!(resp.status, expected, "{key}");
        }
        // An access token is not a capability, and a capability is not an access token.
        let wrong = ctx.get(object).bearer(access(&alice)).send().await;
        assert_eq!(wrong.status, 401);
        let me = ctx.get("/api/auth/me").bearer(&alice_cap).send().await;
        assert_eq!(me.status, 401);
        let del = ctx.delete(object).bearer(&alice_cap).send().await;
        assert_eq!(del.status, 200);
        assert_eq!(ctx.get(object).bearer(&alice_cap).send().await.status, 404);

        // Seed 002's temporary credentials carry the same capability.
        let id_token = alice.tokens["id_token"].as_str().unwrap();
        let (status, temp) = post(
            ctx,
            "/users/awstempcredentials",
            json!({"id_token": id_token}),
            None,
        )
        .await;
        assert_eq!(
            (status, temp["success"].as_bool()),
            (200, Some(true)),
            "{temp}"
        );
        let seed_cap = temp["data"]["session_token"].as_str().unwrap();
        let listed = ctx.get("/api/backup/objects").bearer(seed_cap).send().await;
        assert_eq!(listed.status, 200);
        let (status, bad) = post(
            ctx,
            "/users/awstempcredentials",
            json!({"id_token": "nonsense"}),
            None,
        )
        .await;
        assert_eq!((status, bad["error"].as_bool()), (400, Some(true)));
    });
}
