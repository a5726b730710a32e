//! D1, R2 and the Durable Object keep their state across a restart of `wrangler dev`, and a
//! stop leaves nothing running. Uses its own server and state, not the shared one.

use meshfed_e2e::{server, Ctx};
use serde_json::{json, Value};
use xtask::process::group_alive;
use xtask::wrangler::health_status;

pub fn state_survives_a_restart(ctx: &Ctx) {
    let state = server::fresh_state_dir("restart");
    let mut first = server::start(&state, None).expect("first server starts");
    let port = first.port;
    let url = "/api/_dev/probe/persist";
    let on_first = ctx.with_base(first.base_url());
    let written: Value = ctx.block_on(async {
        on_first
            .post(url)
            .json(&json!({"note": "kept"}))
            .send()
            .await;
        let resp = on_first
            .post(url)
            .json(&json!({"note": "kept"}))
            .send()
            .await;
        assert_eq!(resp.status, 201);
        resp.json()
    });
    assert_eq!(written["data"]["counter"], json!(2));

    let pgid = first.pgid();
    assert!(first.stop(), "first server stopped");
    assert!(!group_alive(pgid), "no process of wrangler's group is left");
    assert_eq!(health_status(port), None, "nothing answers on the old port");

    let mut second = server::start(&state, Some(port)).expect("server restarts on the same state");
    let on_second = ctx.with_base(second.base_url());
    ctx.block_on(async {
        let read = on_second.get(url).send().await.json();
        assert_eq!(
            read["data"],
            json!({"key": "persist", "d1_note": "kept", "r2_bytes": 4,
                                         "counter": 2})
        );
        let bumped = on_second
            .post(url)
            .json(&json!({"note": "again"}))
            .send()
            .await
            .json();
        assert_eq!(bumped["data"]["counter"], json!(3));
    });
    assert!(second.stop(), "second server stopped");
    let _ = std::fs::remove_dir_all(&state);
}
