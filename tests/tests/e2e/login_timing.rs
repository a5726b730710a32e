//! No account enumeration by response time: wrong passwords for a real account and for a
//! name nobody has take alike long, through the lockout too (a locked account still pays the
//! KDF, as the unknown name's imitation of a lockout does). Measured, not assumed: eight
//! attempts each, alternating, and their medians compared.

use std::time::Instant;

use meshfed_e2e::identity::{post, registered_and_confirmed};
use meshfed_e2e::Ctx;
use serde_json::json;

/// Milliseconds of one wrong sign-in as `username`, and its status.
async fn attempt(ctx: &Ctx, username: &str) -> (f64, u16) {
    let body = json!({"username": username, "password": "Not-The-Password-1"});
    let start = Instant::now();
    let (status, _) = post(ctx, "/api/auth/login", body, None).await;
    (start.elapsed().as_secs_f64() * 1e3, status)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn a_real_account_and_an_unknown_name_answer_alike_in_time(ctx: &Ctx) {
    ctx.block_on(async {
        let (username, _, _) = registered_and_confirmed(ctx, "timing").await;
        let unknown = format!("{username}_nobody");
        let (mut real, mut none) = (Vec::new(), Vec::new());
        for i in 0..8 {
            let (a, status_a) = attempt(ctx, &username).await;
            let (b, status_b) = attempt(ctx, &unknown).await;
            assert_eq!(status_a, status_b, "attempt {i}: the same answer");
            real.push(a);
            none.push(b);
        }
        let (locked_real, locked_none) = (median(real[5..].to_vec()), median(none[5..].to_vec()));
        let (all_real, all_none) = (median(real.clone()), median(none.clone()));
        println!(
            "login timing: real {real:.0?} ms, unknown {none:.0?} ms; medians {all_real:.0} / \
             {all_none:.0} ms, while locked {locked_real:.0} / {locked_none:.0} ms"
        );
        for (what, a, b) in [
            ("all", all_real, all_none),
            ("locked", locked_real, locked_none),
        ] {
            let ratio = a / b;
            assert!(
                (0.5..=2.0).contains(&ratio),
                "{what}: a real account's median {a:.0} ms against {b:.0} ms"
            );
        }
    });
}
