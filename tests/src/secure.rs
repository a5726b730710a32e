//! Driving a secure round by hand with `shared::secagg`, for the tests that need a
//! participant the product's clients would never be (one that leaves halfway).

use std::time::{Duration, Instant};

use meshfed_shared::api::runs::SharesRequest;
use meshfed_shared::auth::mnemonic;
use meshfed_shared::secagg::identity::SignedKeys;
use meshfed_shared::secagg::{client, Peer, RoundContext, RoundSecrets};
use serde_json::{json, Value};

use crate::identity::MfaUser;
use crate::runs::{send, token};
use crate::Ctx;

/// How long the others may take to advertise (browsers train on emulated GPUs first).
const WAIT: Duration = Duration::from_secs(600);

/// A participant of a secure round driven by hand with `shared::secagg`: it advertises its
/// keys, sends its sealed shares, then marks itself inactive (it leaves before masking).
pub struct Dropout {
    token: String,
    run: i64,
    secrets: RoundSecrets,
}

impl Dropout {
    pub async fn advertise(ctx: &Ctx, user: &MfaUser, run: i64) -> Self {
        // Keys of its own: two members may not advertise the same keys.
        let mut seed = [42u8; 32];
        for (i, b) in user.username.bytes().enumerate() {
            seed[i % 32] ^= b;
        }
        let secrets = RoundSecrets::derive(&seed, &RoundContext { run, round: 1 });
        let me = Self {
            token: token(user),
            run,
            secrets,
        };
        let identity = mnemonic::signing_key(&user.recovery_phrase).expect("its phrase");
        let signed = SignedKeys::sign(
            &identity,
            &RoundContext { run, round: 1 },
            0,
            me.secrets.advert(),
        );
        let keys = serde_json::to_value(signed).unwrap();
        let (status, body) = me.post("keys", keys, ctx).await;
        assert_eq!(status, 200, "{body}");
        me
    }

    async fn post(&self, op: &str, body: Value, ctx: &Ctx) -> (u16, Value) {
        let path = format!("/api/runs/{}/rounds/1/secure/{op}", self.run);
        send(ctx, reqwest::Method::POST, &path, &self.token, Some(body)).await
    }

    pub async fn share_then_leave(&self, ctx: &Ctx) {
        let path = format!("/api/runs/{}/rounds/1/secure", self.run);
        let started = Instant::now();
        let view = loop {
            let (status, body) = send(ctx, reqwest::Method::GET, &path, &self.token, None).await;
            assert_eq!(status, 200, "{body}");
            if body["data"]["phase"] == "shares" {
                break body["data"].clone();
            }
            assert!(
                started.elapsed() < WAIT,
                "the others never advertised: {body}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let members: Vec<Peer> = serde_json::from_value(view["members"].clone()).unwrap();
        let me = view["me"].as_u64().unwrap() as u8;
        let ctx_r1 = RoundContext {
            run: self.run,
            round: 1,
        };
        let sealed =
            client::seal_shares(&self.secrets, me, &members, 3, &ctx_r1, &[7; 32]).unwrap();
        let (status, body) = self
            .post("shares", json!(SharesRequest::of(&sealed)), ctx)
            .await;
        assert_eq!(status, 200, "{body}");
        let activate = format!("/api/runs/{}/activate", self.run);
        let (status, body) = send(
            ctx,
            reqwest::Method::POST,
            &activate,
            &self.token,
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
}
