//! The browser's part in a securely aggregated round: after training, the page follows the
//! round's phases with the same state machine as `meshfed join`
//! ([`meshfed_shared::secagg::participant`]): keys, sealed shares, the masked update, the
//! reveals. Nothing it uploads is its update in the clear.

use std::time::Duration;

use meshfed_shared::api::runs::SecureRound;
use meshfed_shared::auth::mnemonic::SigningKey;
use meshfed_shared::secagg::identity::{fingerprint, KnownKeys, MemberSignature};
use meshfed_shared::secagg::participant::{Action, Participant, Trained};
use meshfed_shared::secagg::RoundContext;
use meshfed_shared::ErrorCode;

use super::join::{sleep, JoinView};
use crate::api::{get_json, post_json, put_octets, ClientError};
use crate::session::Session;

const POLL: Duration = Duration::from_millis(500);

/// `N` random bytes from the browser's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    web_sys::window()
        .ok_or("No window for random numbers")?
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).map(|_| ()))
        .map_err(|_| "This browser gives no random numbers (crypto.getRandomValues)")?;
    Ok(bytes)
}

/// Where this browser pins the keys of secure rounds' members (public keys: no secret).
const KNOWN_KEYS: &str = "meshfed.known_round_keys";

/// Pins the round's members' recovery-phrase keys as first seen; refuses a changed one.
/// Answers the members seen for the first time (but this participant, whose fingerprint is
/// `mine`), with their fingerprints.
fn pin(signatures: &[MemberSignature], mine: &str) -> Result<Vec<(String, String)>, String> {
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .ok_or("This browser keeps no local storage, where the members' keys are pinned")?;
    let mut known: KnownKeys = match storage.get_item(KNOWN_KEYS) {
        Ok(Some(json)) => serde_json::from_str(&json)
            .map_err(|_| "The keys this browser pinned are unreadable: nothing is trusted")?,
        _ => KnownKeys::default(),
    };
    let new: Vec<(String, String)> = known
        .pin(signatures)
        .map_err(|e| format!("Secure aggregation refused: {e}"))?
        .into_iter()
        .map(|m| (m.username.clone(), m.fingerprint().unwrap_or_default()))
        .collect();
    if !new.is_empty() {
        let json = serde_json::to_string(&known).map_err(|e| e.to_string())?;
        storage
            .set_item(KNOWN_KEYS, &json)
            .map_err(|_| "This browser would not keep the members' keys")?;
    }
    Ok(new
        .into_iter()
        .filter(|(_, printed)| printed != mine)
        .collect())
}

fn api_error(session: &Session, e: ClientError) -> String {
    session.check(&e);
    e.to_string()
}

/// Takes `round` of `run` through its secure phases with what was `trained`.
pub async fn take_part(
    session: &Session,
    run: i64,
    round: u32,
    trained: Trained,
    identity: SigningKey,
    view: &dyn JoinView,
) -> Result<(), String> {
    let ctx = RoundContext { run, round };
    let mine = fingerprint(identity.verifying_key().as_bytes());
    let participant = Participant::new(ctx, &random_bytes()?, trained, identity);
    let base = format!("/api/runs/{run}/rounds/{round}/secure");
    loop {
        let token = session.access_token().ok_or("You are signed out")?;
        let bearer = Some(token.expose());
        let current: SecureRound = match get_json(&base, bearer).await {
            Ok(v) => v,
            // The round closed: its view is gone, our part is over.
            Err(ClientError::Api(e)) if e.code == ErrorCode::Conflict => return Ok(()),
            Err(e) => return Err(api_error(session, e)),
        };
        let action = participant
            .next(&current)
            .map_err(|e| format!("Secure aggregation, round {round}: {e}"))?;
        view.status(format!(
            "Round {round}: secure aggregation, {} phase ({} advertised)…",
            current.phase.as_str(),
            current.advertised
        ));
        let sent: Result<SecureRound, ClientError> = match action {
            Action::Done => return Ok(()),
            Action::Wait => {
                sleep(POLL).await;
                continue;
            }
            Action::Keys(keys) => post_json(&format!("{base}/keys"), &keys, bearer).await,
            Action::Shares(shares) => {
                // Every member's key must be the one this browser first saw for them.
                for (username, printed) in pin(&current.signatures, &mine)? {
                    view.key_first_seen(username, printed);
                }
                post_json(&format!("{base}/shares"), &shares, bearer).await
            }
            Action::Reveal(reveals) => post_json(&format!("{base}/reveal"), &reveals, bearer).await,
            Action::Input(bytes) => put_octets(&format!("{base}/input"), &bytes, bearer).await,
        };
        if let Err(e) = sent {
            // The last reveal closes the round: a refusal after it only ends our part.
            if round_closed(session, run, round).await? {
                return Ok(());
            }
            return Err(api_error(session, e));
        }
    }
}

async fn round_closed(session: &Session, run: i64, round: u32) -> Result<bool, String> {
    let token = session.access_token().ok_or("You are signed out")?;
    let detail = crate::api::runs::detail(&token, run)
        .await
        .map_err(|e| api_error(session, e))?;
    Ok(detail.run.current_round > round)
}
