//! A round carries on across a restart of the Worker: two of three uploads in, restart
//! `wrangler dev` on the same state, the third closes the round with exactly the reference
//! aggregate (nothing lost, nothing counted twice). Uses its own server.

use meshfed_e2e::runs::*;
use meshfed_e2e::{server, Ctx};
use meshfed_shared::meshnet::ModelConfig;
use serde_json::json;

pub fn a_round_carries_on_after_a_restart(ctx: &Ctx) {
    let state = server::fresh_state_dir("runs-restart");
    let mut first = server::start_with(&state, None, server::SHARED_VARS).expect("server starts");
    let port = first.port;
    let own = ctx.with_base(first.base_url());
    let m = ModelConfig::model5(3);
    let uploads: Vec<(Vec<f32>, f64)> = (0..3)
        .map(|i| (values(500 + i, 5598), (i + 2) as f64))
        .collect();
    let (users, run) = own.block_on(async {
        let users = participants(&own, "restart", 3).await;
        let run = create_run(&own, &users[0], &[&users[1], &users[2]], json!({})).await;
        for (u, (v, n)) in users.iter().zip(&uploads).take(2) {
            let (s, b) = put_tensors(
                &own,
                &token(u),
                run,
                1,
                "weights",
                safetensors_of(&m, v),
                *n as u64,
            )
            .await;
            assert_eq!(s, 200, "{b}");
        }
        // The second user replaces theirs with the same values: still counted once.
        let (v, n) = &uploads[1];
        let (s, b) = put_tensors(
            &own,
            &token(&users[1]),
            run,
            1,
            "weights",
            safetensors_of(&m, v),
            *n as u64,
        )
        .await;
        assert_eq!((s, b["data"]["replaced"].clone()), (200, json!(true)));
        (users, run)
    });
    assert!(first.stop(), "first server stopped");
    let mut second =
        server::start_with(&state, Some(port), server::SHARED_VARS).expect("server restarts");
    own.block_on(async {
        let detail = run_detail(&own, &token(&users[2]), run).await;
        assert_eq!(
            detail["round"]["uploads"], 2,
            "both uploads survived the restart"
        );
        let (v, n) = &uploads[2];
        let (s, b) = put_tensors(
            &own,
            &token(&users[2]),
            run,
            1,
            "weights",
            safetensors_of(&m, v),
            *n as u64,
        )
        .await;
        assert_eq!(
            (s, b["data"]["closed"].clone(), b["data"]["uploads"].clone()),
            (200, json!(true), json!(3)),
            "{b}"
        );
        let got = current_model(&own, &token(&users[0]), run, &m).await;
        assert_close(&got, &reference(&uploads));
        let detail = run_detail(&own, &token(&users[0]), run).await;
        assert_eq!(detail["history"][0]["metrics"]["num_examples"], 2 + 3 + 4);
    });
    assert!(second.stop(), "second server stopped");
}
