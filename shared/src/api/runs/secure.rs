//! `/api/runs/{id}/rounds/{round}/secure…`: the phases of a securely aggregated round as a
//! participant sees them (see [`crate::secagg`]), and what it sends in each.

use serde::{Deserialize, Serialize};

use crate::secagg::identity::MemberSignature;
use crate::secagg::{Peer, Reveal, SealedShare};

/// A secure round's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecurePhase {
    /// Participants advertise their round keys (after training).
    Keys,
    /// Members send each other encrypted shares of their secrets.
    Shares,
    /// Senders upload their masked inputs.
    Input,
    /// Survivors reveal the shares the server needs to unmask the sum.
    Reveal,
}

impl SecurePhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keys => "keys",
            Self::Shares => "shares",
            Self::Input => "input",
            Self::Reveal => "reveal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Keys, Self::Shares, Self::Input, Self::Reveal]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// `GET /api/runs/{id}/rounds/{round}/secure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecureRound {
    pub round: u32,
    /// How many times the round's keys started over (a phase kept fewer than the threshold);
    /// each attempt takes fresh keys.
    #[serde(default)]
    pub attempt: u32,
    pub phase: SecurePhase,
    /// When the phase goes on without those who have not acted (RFC 3339).
    pub phase_deadline_at: String,
    /// How many have advertised keys (keys phase).
    pub advertised: u32,
    /// Shares any secret needs; set once the keys are fixed.
    pub threshold: Option<u32>,
    /// The caller's index among the members, once the keys are fixed.
    pub me: Option<u8>,
    /// Everyone whose keys count this round, by index.
    pub members: Vec<Peer>,
    /// Each member's signature of its keys, with the public key it verifies against.
    #[serde(default)]
    pub signatures: Vec<MemberSignature>,
    /// Members whose shares reached the server (from the input phase on).
    pub senders: Vec<u8>,
    /// Senders whose masked inputs count (reveal phase).
    pub survivors: Vec<u8>,
    /// The sealed shares addressed to the caller (from the input phase on).
    pub shares_for_me: Vec<SealedShare>,
    /// Values in a masked input.
    pub vector_len: usize,
    /// What the caller has already sent this round.
    pub sent: SecureSent,
}

/// What one participant has sent in a round.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SecureSent {
    pub keys: bool,
    pub shares: bool,
    pub input: bool,
    pub reveal: bool,
}

/// `POST …/secure/keys`: the keys, signed by their owner.
pub type KeysRequest = crate::secagg::identity::SignedKeys;

/// `POST …/secure/shares`: one sealed share for every member, the sender included. It names
/// no sender: the server knows who sends, and a share that names one is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharesRequest {
    pub shares: Vec<ShareFor>,
}

/// A sealed share on its way to member `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareFor {
    pub to: u8,
    #[serde(with = "crate::secagg::keys::base64_bytes")]
    #[schemars(with = "String", pattern(r"^[A-Za-z0-9+/]*={0,2}$"))]
    pub ciphertext: Vec<u8>,
}

impl SharesRequest {
    /// The request that sends `sealed` (all from one sender).
    pub fn of(sealed: &[SealedShare]) -> Self {
        let shares = sealed
            .iter()
            .map(|s| ShareFor {
                to: s.to,
                ciphertext: s.ciphertext.clone(),
            })
            .collect();
        Self { shares }
    }

    /// The shares as sent by member `from`.
    pub fn sealed_by(&self, from: u8) -> Vec<SealedShare> {
        let share = |s: &ShareFor| SealedShare {
            from,
            to: s.to,
            ciphertext: s.ciphertext.clone(),
        };
        self.shares.iter().map(share).collect()
    }
}

/// `POST …/secure/reveal`: one share for every sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevealRequest {
    pub reveals: Vec<Reveal>,
}
