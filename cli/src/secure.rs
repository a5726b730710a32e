//! `meshfed join` in a securely aggregated run: after training, the participant follows the
//! round's phases with the state machine it shares with the browser
//! ([`meshfed_shared::secagg::participant`]): advertise keys, send sealed shares, upload the
//! masked update, reveal the shares the server needs. Nothing it uploads is its update in
//! the clear.

use std::time::{Duration, Instant};

use meshfed_shared::api::runs::{RunDetail, SecureRound};
use meshfed_shared::auth::mnemonic::SigningKey;
use meshfed_shared::secagg::identity::fingerprint;
use meshfed_shared::secagg::participant::{Action, Participant, Trained};
use meshfed_shared::secagg::RoundContext;

use crate::error::{CliError, CliResult};
use crate::known_keys::KnownKeysFile;
use crate::progress;
use crate::server::Server;

fn entropy() -> CliResult<[u8; 64]> {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes)
        .map_err(|e| CliError::Usage(format!("no random numbers for the round's keys: {e}")))?;
    Ok(bytes)
}

/// A member whose key this participant saw for the first time, for its person to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstSeen {
    pub username: String,
    pub fingerprint: String,
}

/// Takes round `detail.run.current_round` through its secure phases with `trained`; returns
/// when this participant has done its part (or the round closed without needing it), with
/// the other members whose keys it pinned in this round.
pub fn take_part(
    server: &Server,
    detail: &RunDetail,
    trained: Trained,
    (identity, known): (SigningKey, &mut KnownKeysFile),
    limit: Duration,
) -> CliResult<Vec<FirstSeen>> {
    let (run, round) = (detail.run.id, detail.run.current_round);
    let ctx = RoundContext { run, round };
    let mine = fingerprint(identity.verifying_key().as_bytes());
    let participant = Participant::new(ctx, &entropy()?, trained, identity);
    let mut first_seen = vec![];
    let base = format!("/api/runs/{run}/rounds/{round}/secure");
    let spinner = progress::spinner(&format!("round {round}: secure aggregation"));
    let pins = Pins {
        known,
        mine: &mine,
        first_seen: &mut first_seen,
    };
    let result = follow(
        server,
        (&participant, pins),
        (run, round),
        &base,
        limit,
        &spinner,
    );
    spinner.finish_and_clear();
    match result {
        // The round may close between any two calls (the last reveal closes it): a refusal
        // then only says that our part is over.
        Err(e) if closed(server, run, round)? => eprintln!("round {round} closed ({e})"),
        other => other?,
    }
    Ok(first_seen)
}

/// Where the members' keys are pinned, this participant's own fingerprint and the members
/// seen for the first time.
struct Pins<'a> {
    known: &'a mut KnownKeysFile,
    mine: &'a str,
    first_seen: &'a mut Vec<FirstSeen>,
}

impl Pins<'_> {
    /// Pins the round's members' keys; names each one seen for the first time (but this
    /// participant's own), with its fingerprint to check with its person out of band.
    fn pin(
        &mut self,
        server: &Server,
        view: &SecureRound,
        spinner: &indicatif::ProgressBar,
    ) -> CliResult<()> {
        let new = self.known.pin(server.base(), &view.signatures)?;
        for member in new {
            let printed = member.fingerprint().unwrap_or_default();
            if printed == self.mine {
                continue;
            }
            let seen = FirstSeen {
                username: member.username.clone(),
                fingerprint: printed,
            };
            spinner.suspend(|| {
                eprintln!(
                    "first secure round with {}: their key's fingerprint is {}. Check it with \
                     them (`meshfed join` shows them theirs); it is pinned from now on",
                    seen.username, seen.fingerprint
                )
            });
            self.first_seen.push(seen);
        }
        Ok(())
    }
}

fn closed(server: &Server, run: i64, round: u32) -> CliResult<bool> {
    let current: RunDetail = server.get_json(&format!("/api/runs/{run}"))?;
    Ok(current.run.current_round > round)
}

fn follow(
    server: &Server,
    (participant, mut pins): (&Participant, Pins),
    (run, round): (i64, u32),
    base: &str,
    limit: Duration,
    spinner: &indicatif::ProgressBar,
) -> CliResult<()> {
    let start = Instant::now();
    loop {
        if closed(server, run, round)? {
            return Ok(());
        }
        let view: SecureRound = server.get_json(base)?;
        let action = participant
            .next(&view)
            .map_err(|e| CliError::Server(format!("secure aggregation, round {round}: {e}")))?;
        spinner.set_message(format!(
            "round {round}: {} phase, {} advertised, until {}",
            view.phase.as_str(),
            view.advertised,
            view.phase_deadline_at
        ));
        let _: SecureRound = match action {
            Action::Done => return Ok(()),
            Action::Wait => {
                if start.elapsed() > limit {
                    return Err(CliError::Server(format!(
                        "round {round} stayed in its {} phase for {}s",
                        view.phase.as_str(),
                        limit.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
            Action::Keys(keys) => server.post_json(&format!("{base}/keys"), &keys)?,
            Action::Shares(shares) => {
                // Every member's key must be the one first seen for them.
                pins.pin(server, &view, spinner)?;
                server.post_json(&format!("{base}/shares"), &shares)?
            }
            Action::Input(bytes) => server.put_octets(&format!("{base}/input"), bytes)?,
            Action::Reveal(reveals) => server.post_json(&format!("{base}/reveal"), &reveals)?,
        };
    }
}
