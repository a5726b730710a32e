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

        let object = ctx.url("/api/backup/objects/models/round-1.safetensors");
        let put = ctx
            .http
            .put(&object)
            .bearer_auth(&alice_cap)
            .body(vec![7u8; 1000])
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 201);
        let got = ctx
            .http
            .get(&object)
            .bearer_auth(&alice_cap)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap().to_vec(), vec![7u8; 1000]);
        let list: Value = ctx
            .http
            .get(ctx.url("/api/backup/objects"))
            .bearer_auth(&alice_cap)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            list["data"],
            json!([{"key": "models/round-1.safetensors", "size": 1000}])
        );

        // Bob's capability addresses Bob's folder: Alice's object is not there.
        let theirs = ctx
            .http
            .get(&object)
            .bearer_auth(&bob_cap)
            .send()
            .await
            .unwrap();
        assert_eq!(theirs.status(), 404);
        let bob_list: Value = ctx
            .http
            .get(ctx.url("/api/backup/objects"))
            .bearer_auth(&bob_cap)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(bob_list["data"], json!([]));
        // Empty segments are refused; dot segments never arrive (clients normalise them,
        // `valid_key`'s unit tests cover them), so `../x` is another route entirely.
        for (key, expected) in [("a//b", 400), ("dir/", 400), ("../x", 404)] {
            let url = format!("{}/api/backup/objects/{key}", ctx.base);
            let resp = ctx
                .http
                .put(&url)
                .bearer_auth(&alice_cap)
                .body("x")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), expected, "{key}");
        }
        // An access token is not a capability, and a capability is not an access token.
        let wrong = ctx
            .http
            .get(&object)
            .bearer_auth(access(&alice))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let me = ctx
            .http
            .get(ctx.url("/api/auth/me"))
            .bearer_auth(&alice_cap)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401);
        let del = ctx
            .http
            .delete(&object)
            .bearer_auth(&alice_cap)
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        assert_eq!(
            ctx.http
                .get(&object)
                .bearer_auth(&alice_cap)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );

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
        let listed = ctx
            .http
            .get(ctx.url("/api/backup/objects"))
            .bearer_auth(seed_cap)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
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
