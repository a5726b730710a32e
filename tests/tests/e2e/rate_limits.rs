//! Seed 003's rate limits, per client (`CF-Connecting-IP`) and per account, on a server of
//! its own with the production settings (the shared server scales limits up).

use std::sync::atomic::{AtomicU32, Ordering};

use meshfed_e2e::{server, Ctx};
use serde_json::{json, Value};

static CLIENTS: AtomicU32 = AtomicU32::new(1);

/// A client address no other test uses (TEST-NET-3).
fn fresh_client() -> String {
    let n = CLIENTS.fetch_add(1, Ordering::SeqCst);
    format!("203.0.113.{}", n % 250 + 1)
}

struct Answer {
    status: u16,
    limit: Option<u32>,
    remaining: Option<u32>,
    reset: Option<i64>,
    retry_after: Option<i64>,
    body: Value,
}

async fn send(ctx: &Ctx, path: &str, client: &str, body: Value) -> Answer {
    let resp = ctx
        .post(path)
        .header("cf-connecting-ip", client)
        .json(&body)
        .send()
        .await;
    let header = |name: &str| {
        resp.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (limit, remaining, reset, retry) = (
        header("x-ratelimit-limit"),
        header("x-ratelimit-remaining"),
        header("x-ratelimit-reset"),
        header("retry-after"),
    );
    Answer {
        status: resp.status,
        limit: limit.and_then(|v| v.parse().ok()),
        remaining: remaining.and_then(|v| v.parse().ok()),
        reset: reset.and_then(|v| v.parse().ok()),
        retry_after: retry.and_then(|v| v.parse().ok()),
        body: resp.json(),
    }
}

/// Sends `n` requests from one new client; `None` if a window boundary fell in between.
async fn burst(ctx: &Ctx, path: &str, n: usize, body: &Value) -> Option<Vec<Answer>> {
    let client = fresh_client();
    let mut answers = Vec::new();
    for i in 0..n {
        // A different (unknown) account each time: only the client limit is in play.
        let mut body = body.clone();
        if let Some(name) = body["username"].as_str() {
            body["username"] = json!(format!("{name}_{client}_{i}"));
        }
        answers.push(send(ctx, path, &client, body).await);
    }
    let first = answers[0].reset;
    answers.iter().all(|a| a.reset == first).then_some(answers)
}

fn login_allows_five_a_minute_per_client(ctx: &Ctx) {
    ctx.block_on(async {
        let body = json!({"username": "rate_nobody", "password": "Whatever-1"});
        let answers = match burst(ctx, "/api/auth/login", 6, &body).await {
            Some(a) => a,
            None => burst(ctx, "/api/auth/login", 6, &body)
                .await
                .expect("two window boundaries in a row"),
        };
        for (i, a) in answers[..5].iter().enumerate() {
            assert_eq!(a.status, 401, "attempt {i}: {}", a.body);
            assert_eq!(
                (a.limit, a.remaining),
                (Some(5), Some(4 - i as u32)),
                "attempt {i}"
            );
            assert!(a.reset.is_some());
        }
        let refused = &answers[5];
        assert_eq!(refused.status, 429);
        assert_eq!(refused.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(refused.remaining, Some(0));
        assert!(
            refused.retry_after.is_some_and(|s| (1..=60).contains(&s)),
            "Retry-After"
        );
        // Another client is not affected.
        let other = send(ctx, "/api/auth/login", &fresh_client(), body).await;
        assert_eq!((other.status, other.remaining), (401, Some(4)));
    });
}

/// An IPv6 client cannot escape its limit by taking a new address of its /64 for every
/// attempt; a client of another /64 is not affected.
fn ipv6_clients_share_the_limit_of_their_64(ctx: &Ctx) {
    ctx.block_on(async {
        // A different unknown account each time: only the client limit is in play.
        let body = |n: u32, i: u32| json!({"username": format!("v6_{n}_{i}"), "password": "W-1"});
        for attempt in 0..2 {
            let n = CLIENTS.fetch_add(1, Ordering::SeqCst);
            let prefix = format!("2001:db8:{n:x}:1");
            let mut answers = Vec::new();
            for host in 1..=6 {
                let address = format!("{prefix}:{host:x}::{:x}", host * 7);
                answers.push(send(ctx, "/api/auth/login", &address, body(n, host)).await);
            }
            if answers.iter().any(|a| a.reset != answers[0].reset) {
                assert_eq!(attempt, 0, "two window boundaries in a row");
                continue; // a window boundary fell inside the burst
            }
            for (i, a) in answers[..5].iter().enumerate() {
                assert_eq!((a.status, a.remaining), (401, Some(4 - i as u32)), "{i}");
            }
            assert_eq!(answers[5].status, 429, "a sixth address of the same /64");
            let other = format!("2001:db8:{n:x}:2::1");
            let other = send(ctx, "/api/auth/login", &other, body(n, 0)).await;
            assert_eq!(
                (other.status, other.remaining),
                (401, Some(4)),
                "another /64"
            );
            break;
        }
    });
}

/// Resending the confirmation code cannot flood an inbox: 3 per account in 15 minutes,
/// counted alike by username and email, from any client; an unknown name is limited alike.
fn confirmation_codes_are_resent_three_times_per_account(ctx: &Ctx) {
    ctx.block_on(async {
        let n = CLIENTS.fetch_add(1, Ordering::SeqCst);
        let (name, email) = (format!("resend_{n}"), format!("resend_{n}@example.com"));
        let registered = send(
            ctx,
            "/api/auth/register",
            &fresh_client(),
            json!({"username": name, "email": email, "password": "Correct-Horse-9-battery",
                   "first_name": "Re", "last_name": "Send"}),
        )
        .await;
        assert_eq!(registered.status, 201, "{}", registered.body);
        let resend = "/api/auth/confirm/resend";
        for (i, login) in [&name, &email, &name].into_iter().enumerate() {
            let a = send(ctx, resend, &fresh_client(), json!({ "username": login })).await;
            assert_eq!(a.status, 200, "resend {i}: {}", a.body);
        }
        let a = send(ctx, resend, &fresh_client(), json!({ "username": email })).await;
        assert_eq!(a.status, 429, "a fourth resend, by email: {}", a.body);
        assert_eq!(a.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
        // An unknown name: the same answers, the same limit.
        let unknown = format!("nobody_{n}");
        for i in 0..3 {
            let a = send(ctx, resend, &fresh_client(), json!({ "username": unknown })).await;
            assert_eq!(a.status, 200, "unknown resend {i}: {}", a.body);
        }
        let a = send(ctx, resend, &fresh_client(), json!({ "username": unknown })).await;
        assert_eq!(a.status, 429, "{}", a.body);
    });
}

fn register_allows_three_per_five_minutes_and_other_routes_twenty(ctx: &Ctx) {
    ctx.block_on(async {
        let answers = burst(ctx, "/api/auth/register", 4, &json!({"username": "x"})).await;
        let answers = match answers {
            Some(a) => a,
            None => burst(ctx, "/api/auth/register", 4, &json!({"username": "x"}))
                .await
                .unwrap(),
        };
        let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [400, 400, 400, 429]);
        assert_eq!(answers[0].limit, Some(3));
        let me = send(
            ctx,
            "/api/auth/confirm/resend",
            &fresh_client(),
            json!({"username": "x"}),
        )
        .await;
        assert_eq!(
            (me.status, me.limit, me.remaining),
            (200, Some(20), Some(19))
        );
    });
}

fn login_is_limited_per_account_across_clients(ctx: &Ctx) {
    ctx.block_on(async {
        let body = json!({"username": format!("acct_target_{}", std::process::id()), "password": "Whatever-1"});
        let mut statuses = Vec::new();
        for _ in 0..11 {
            statuses.push(send(ctx, "/api/auth/login", &fresh_client(), body.clone()).await.status);
        }
        // Unknown accounts lock after 5 failures like real ones (423); the 11th request in a
        // minute is over the per-account limit (429). A window boundary may reset one count.
        assert!(statuses.iter().all(|s| [401, 423, 429].contains(s)), "{statuses:?}");
        assert_eq!(&statuses[..4], [401, 401, 401, 401], "{statuses:?}");
        assert!(statuses[10] == 429 || !statuses.contains(&429), "{statuses:?}");
        assert!(statuses.iter().filter(|&&s| s == 429).count() <= 1, "{statuses:?}");
    });
}

pub fn seed_003_limits_on_a_server_with_production_settings(ctx: &Ctx) {
    let state = server::fresh_state_dir("ratelimit");
    let mut own = server::start(&state, None).expect("rate-limit server starts");
    let local = ctx.with_base(own.base_url());
    // The shared server answers with scaled limits, still announcing them.
    ctx.block_on(async {
        let a = send(
            ctx,
            "/api/auth/login",
            &fresh_client(),
            json!({"username": "x", "password": "y"}),
        )
        .await;
        assert_eq!(
            a.limit,
            Some(5000),
            "the shared server scales the seed's 5 by 1000"
        );
    });
    login_allows_five_a_minute_per_client(&local);
    ipv6_clients_share_the_limit_of_their_64(&local);
    confirmation_codes_are_resent_three_times_per_account(&local);
    register_allows_three_per_five_minutes_and_other_routes_twenty(&local);
    login_is_limited_per_account_across_clients(&local);
    seed_login_routes_share_the_client_limit(&local);
    runs_and_uploads_are_limited_per_user(&local);
    assert!(own.stop());
}

/// One account cannot flood D1 and R2: 20 new runs an hour, 60 uploads a minute. A window
/// may turn over during a burst, so each burst runs until its first 429 and counts at least
/// the limit before it.
fn runs_and_uploads_are_limited_per_user(ctx: &Ctx) {
    use meshfed_e2e::runs::{participants, put_weights, token, values};
    ctx.block_on(async {
        let users = participants(ctx, "limited", 2).await;
        let mut created = vec![];
        let refusal = loop {
            let body = json!({"name": "burst", "participants": [users[1].email], "classes": 3});
            let resp = ctx
                .post("/api/runs")
                .bearer(token(&users[0]))
                .json(&body)
                .send()
                .await;
            if resp.status == 429 || created.len() >= 45 {
                break resp;
            }
            assert_eq!(resp.status, 201);
            created.push(resp.json()["data"]["id"].as_i64().unwrap());
        };
        assert_eq!(
            refusal.status,
            429,
            "no refusal after {} runs",
            created.len()
        );
        assert!(created.len() >= 20, "{} runs before the 429", created.len());
        assert!(refusal.headers.contains_key("retry-after"));
        let body: Value = refusal.json();
        assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(body["error"]["details"]["limit"], 20);

        // Uploads: the same participant replacing its upload, until the limit answers.
        let run = created[0];
        let v = values(91, 5598);
        let mut accepted = 0;
        let (status, body) = loop {
            let (status, body) = put_weights(ctx, &users[0], run, 1, &v, 1).await;
            if status != 200 || accepted >= 130 {
                break (status, body);
            }
            accepted += 1;
        };
        assert_eq!(status, 429, "after {accepted} uploads: {body}");
        assert!(accepted >= 60, "{accepted} uploads before the 429");
        assert_eq!(body["error"]["details"]["limit"], 60);
        // The other participant's own budget is untouched.
        let (status, _) = put_weights(ctx, &users[1], run, 1, &v, 1).await;
        assert_eq!(status, 200);
    });
}

/// The seeds' login routes are no way around the canonical limit.
fn seed_login_routes_share_the_client_limit(ctx: &Ctx) {
    ctx.block_on(async {
        for path in ["/users/login", "/dev/login"] {
            let body =
                json!({"username": "seed_nobody", "password": "Whatever-1", "request": "LOGIN"});
            let answers = match burst(ctx, path, 6, &body).await {
                Some(a) => a,
                None => burst(ctx, path, 6, &body)
                    .await
                    .expect("two window boundaries in a row"),
            };
            let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
            assert!(
                statuses[..5].iter().all(|&s| s == 400 || s == 401),
                "{path}: {statuses:?}"
            );
            assert_eq!(statuses[5], 429, "{path}: {statuses:?}");
            assert_eq!(
                (answers[0].limit, answers[5].retry_after.is_some()),
                (Some(5), true),
                "{path}"
            );
        }
    });
}
