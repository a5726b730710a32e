//! Crash safety under SIGKILL: `wrangler dev` (its whole process group: wrangler, workerd
//! and the Durable Objects in it) is killed 20 times at random moments while three
//! participants upload, and while the upload that completes a round closes it (one kill a
//! round, at a moment drawn within the time such a send takes). After each kill the server
//! starts again on the same state and whoever got no answer sends the same
//! upload again, as `meshfed join` does. Afterwards every round counted each upload exactly
//! once and its global model equals the reference FedAvg of its three uploads. Uses its own
//! server; the kill times come from a printed seed (`MESHFED_FAULT_SEED` repeats them).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meshfed_e2e::runs::*;
use meshfed_e2e::{server, Ctx};
use meshfed_shared::meshnet::ModelConfig;
use meshfed_shared::volume::Rng;
use serde_json::{json, Value};
use xtask::process::kill_group;

const KILLS: u32 = 20;
const USERS: usize = 3;

/// The moments to kill at, from the seed.
struct KillTimes(Rng);

impl KillTimes {
    fn within(&mut self, window: Duration) -> Duration {
        Duration::from_micros(self.0.next_u64() % (window.as_micros() as u64).max(1))
    }
}

/// How one participant's upload ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ending {
    /// 200: counted in the round.
    Counted,
    /// 409, the round already closed: an earlier send (whose answer was lost) closed it.
    ClosedBefore,
    /// The connection died with the server.
    Lost,
}

fn ending(result: Result<(u16, Value), reqwest::Error>, round: u32) -> Ending {
    match result {
        Err(_) => Ending::Lost,
        Ok((200, body)) => {
            assert_eq!(body["data"]["round"], round, "{body}");
            Ending::Counted
        }
        Ok((409, body)) if body["error"]["details"]["current_round"] == round + 1 => {
            Ending::ClosedBefore
        }
        Ok((status, body)) => panic!("round {round}: upload answered {status}: {body}"),
    }
}

/// One round's uploads: values, FedAvg weight and the safetensors body per participant.
struct Uploads {
    values: Vec<(Vec<f32>, f64)>,
    bodies: Vec<Vec<u8>>,
}

impl Uploads {
    fn of_round(model: &ModelConfig, round: u32) -> Uploads {
        let values: Vec<(Vec<f32>, f64)> = (0..USERS)
            .map(|i| {
                let seed = u64::from(round) * 10 + i as u64;
                (values(seed, model.parameter_count()), (i + 2) as f64)
            })
            .collect();
        let bodies = values
            .iter()
            .map(|(v, _)| safetensors_of(model, v))
            .collect();
        Uploads { values, bodies }
    }
}

/// Sends the `pending` participants' uploads at once; with `kill`, SIGKILLs the server's
/// process group after that long if an answer is still outstanding. The answers, and
/// whether it killed.
async fn send_round(
    ctx: &Ctx,
    (tokens, run, round): (&[String], i64, u32),
    uploads: &Uploads,
    pending: &[usize],
    kill: Option<(Duration, i32)>,
) -> (Vec<(usize, Ending)>, bool) {
    let outstanding = AtomicUsize::new(pending.len());
    let sends = futures_util::future::join_all(pending.iter().map(|&i| {
        let outstanding = &outstanding;
        async move {
            let weight = uploads.values[i].1 as u64;
            let body = uploads.bodies[i].clone();
            let sent = try_put_tensors(ctx, &tokens[i], run, round, "weights", body, weight).await;
            outstanding.fetch_sub(1, Ordering::SeqCst);
            (i, ending(sent, round))
        }
    }));
    let killer = async {
        let (after, pgid) = kill?;
        tokio::time::sleep(after).await;
        (outstanding.load(Ordering::SeqCst) > 0).then(|| assert!(kill_group(pgid)))
    };
    let (answers, killed) = tokio::join!(sends, killer);
    (answers, killed.is_some())
}

pub fn killed_mid_upload_and_mid_close_rounds_lose_and_repeat_nothing(ctx: &Ctx) {
    let state = server::fresh_state_dir("fault");
    let mut srv = server::start_with(&state, None, server::SHARED_VARS).expect("server starts");
    let port = srv.port;
    let own = ctx.with_base(srv.base_url());
    let model = ModelConfig::model5(3);
    let (tokens, run) = own.block_on(async {
        let users = participants(&own, "fault", USERS).await;
        let run = create_run(&own, &users[0], &[&users[1], &users[2]], json!({})).await;
        (users.iter().map(token).collect::<Vec<_>>(), run)
    });
    let seed = std::env::var("MESHFED_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("[fault] kill times from seed {seed} (MESHFED_FAULT_SEED={seed} repeats them)");
    let mut times = KillTimes(Rng::new(seed));
    // Rounds 1 and 2 run unharmed and measure how long each kind of attempt takes: the
    // kill moments are drawn within that window.
    let (mut upload_window, mut close_window) = (Duration::ZERO, Duration::ZERO);
    let (mut kills, mut lost, mut closed_unanswered) = (0, 0, 0);
    // Where the kills during a closing upload landed: before it was counted, counted but
    // the round still open, the round closed (only the answer lost).
    let mut landed = [0u32; 3];
    let mut round = 1u32;
    while kills < KILLS {
        let uploads = Uploads::of_round(&model, round);
        let at = (tokens.as_slice(), run, round);
        // Odd rounds: all three upload at once under the kill. Even rounds: two go in
        // unharmed and the kill aims at the third, whose request closes the round.
        let closing = round.is_multiple_of(2);
        let mut pending: Vec<usize> = (0..USERS).collect();
        if closing {
            let (answers, _) = own.block_on(send_round(&own, at, &uploads, &[0, 1], None));
            assert!(
                answers.iter().all(|a| a.1 == Ending::Counted),
                "{answers:?}"
            );
            pending = vec![USERS - 1];
        }
        // One kill a round, at its first attempt: the sends again after a restart go through.
        let mut kill_next = round > 2;
        while !pending.is_empty() {
            let window = if closing { close_window } else { upload_window };
            let kill = std::mem::take(&mut kill_next)
                .then(|| (times.within(window.mul_f64(1.25)), srv.pgid()));
            let started = Instant::now();
            let (answers, killed) = own.block_on(send_round(&own, at, &uploads, &pending, kill));
            if kill.is_none() {
                let slot = if closing {
                    &mut close_window
                } else {
                    &mut upload_window
                };
                *slot = (*slot).max(started.elapsed());
            }
            if killed {
                kills += 1;
                assert!(srv.stop(), "the killed server's group is gone");
                srv = server::resume(&state, port, server::SHARED_VARS).expect("restarts");
                if closing && answers[0].1 == Ending::Lost {
                    let detail = own.block_on(run_detail(&own, &tokens[0], run));
                    let closed = detail["current_round"] != round;
                    let counted = detail["round"]["uploads"] == USERS;
                    landed[if closed { 2 } else { usize::from(counted) }] += 1;
                }
            }
            for (_, a) in &answers {
                lost += u32::from(*a == Ending::Lost);
                // (Three resent at once can also meet a round closed by the other two.)
                closed_unanswered += u32::from(closing && *a == Ending::ClosedBefore);
            }
            pending = answers
                .iter()
                .filter(|a| a.1 == Ending::Lost)
                .map(|a| a.0)
                .collect();
        }
        own.block_on(assert_round_counted_once(
            &own, &tokens[0], run, round, &uploads, &model,
        ));
        round += 1;
    }
    println!(
        "[fault] {kills} kills over {} rounds; {lost} uploads unanswered and sent again; \
         kills during a closing upload: {} before it counted, {} after it counted with the \
         round open, {} after the round closed; every round exact (seed {seed})",
        round - 1,
        landed[0],
        landed[1],
        landed[2],
    );
    assert_eq!(
        closed_unanswered, landed[2],
        "a resent closing upload is 409 exactly when its round had closed"
    );
    assert!(srv.stop(), "server stopped");
}

/// The round closed with all three uploads counted once and FedAvg of them as the model.
async fn assert_round_counted_once(
    ctx: &Ctx,
    token: &str,
    run: i64,
    round: u32,
    uploads: &Uploads,
    model: &ModelConfig,
) {
    let detail = run_detail(ctx, token, run).await;
    assert_eq!(detail["current_round"], round + 1, "{detail}");
    let record = detail["history"]
        .as_array()
        .and_then(|h| h.iter().find(|r| r["round"] == round))
        .unwrap_or_else(|| panic!("round {round} in the history: {detail}"));
    let total: f64 = uploads.values.iter().map(|u| u.1).sum();
    assert_eq!(
        (
            &record["metrics"]["uploads"],
            &record["metrics"]["num_examples"]
        ),
        (&json!(USERS), &json!(total as u64)),
        "round {round}: {record}"
    );
    let got = current_model(ctx, token, run, model).await;
    assert_close(&got, &reference(&uploads.values));
}
