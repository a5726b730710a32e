//! A signed-in session with a Meshfed server: the success/failure envelope, bearer token
//! (refreshed before it expires, so a participant can take part for days), and the few routes
//! a participant needs.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use meshfed_shared::api::auth::TokenSet;
use meshfed_shared::api::runs::UploadReceipt;
use meshfed_shared::auth::totp;
use meshfed_shared::envelope::RawEnvelope;
use meshfed_shared::secret::Secret;
use reqwest::blocking::{Client, Response};
use serde_json::json;

use crate::error::{CliError, CliResult};

pub struct Server {
    base: String,
    client: Client,
    session: RefCell<Session>,
}

/// The tokens of the current sign-in. Access tokens live 30 minutes; the refresh token
/// (rotated on every use) replaces them before then.
struct Session {
    access: Secret,
    refresh: Secret,
    /// When to refresh: a minute before the access token expires (half its life if shorter).
    renew_at: Instant,
}

impl Session {
    fn of(tokens: TokenSet) -> Self {
        let life = Duration::from_secs(tokens.expires_in.max(0) as u64);
        let margin = Duration::from_secs(60).min(life / 2);
        Self {
            access: tokens.access_token,
            refresh: tokens.refresh_token,
            renew_at: Instant::now() + life - margin,
        }
    }
}

fn server_err(e: impl std::fmt::Display) -> CliError {
    CliError::Server(e.to_string())
}

/// The envelope's data, or its error as a readable message.
fn data<T: serde::de::DeserializeOwned>(res: Response) -> CliResult<T> {
    let status = res.status();
    let text = res.text().map_err(server_err)?;
    let env: RawEnvelope<serde_json::Value> = serde_json::from_str(&text).map_err(|_| {
        CliError::Server(format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ))
    })?;
    let value = env
        .into_result()
        .map_err(|e| CliError::Server(format!("HTTP {status}: {} ({})", e.message, e.code)))?;
    serde_json::from_value(value)
        .map_err(|e| CliError::Server(format!("unexpected response shape: {e}")))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Server {
    /// Signs in with a password and, when the account has MFA, a TOTP code from the base32
    /// `totp_secret`.
    pub fn sign_in(
        base: &str,
        username: &str,
        password: &str,
        totp_secret: Option<&str>,
    ) -> CliResult<Self> {
        let base = base.trim_end_matches('/').to_string();
        if base.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(CliError::Usage(
                "this meshfed was built without TLS; rebuild with `--features tls` for https"
                    .into(),
            ));
        }
        let client = Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(server_err)?;
        let key = totp_secret
            .map(|secret| {
                totp::base32_decode(secret)
                    .ok_or_else(|| CliError::Usage("MESHFED_TOTP_SECRET is not base32".into()))
            })
            .transpose()?;
        let attempt = |unix: u64| -> CliResult<serde_json::Value> {
            let mut body = json!({"username": username, "password": password});
            if let Some(key) = &key {
                body["mfa_token"] = json!(totp::code_at(key, unix));
            }
            let res = client
                .post(format!("{base}/api/auth/login"))
                .json(&body)
                .send()
                .map_err(server_err)?;
            data(res)
        };
        let value = match attempt(unix_now()) {
            // A code is good once: when this step's code was just used (another session
            // signed in moments ago), the next step's code is not.
            Err(e) if key.is_some() => {
                let next = (unix_now() / 30 + 1) * 30;
                eprintln!("sign-in refused ({e}); retrying with the next TOTP code");
                std::thread::sleep(Duration::from_secs(next.saturating_sub(unix_now()) + 1));
                attempt(unix_now())?
            }
            other => other?,
        };
        if value.get("access_token").is_none() {
            return Err(CliError::Server(match key {
                Some(_) => "sign-in still asks for a second factor".into(),
                None => "this account needs MFA: set MESHFED_TOTP_SECRET (base32)".into(),
            }));
        }
        let tokens: TokenSet = serde_json::from_value(value).map_err(server_err)?;
        Ok(Self {
            base,
            client,
            session: RefCell::new(Session::of(tokens)),
        })
    }

    /// The access token to send now, refreshed first when it is about to expire.
    fn bearer(&self) -> CliResult<String> {
        if Instant::now() >= self.session.borrow().renew_at {
            self.refresh()?;
        }
        Ok(self.session.borrow().access.expose().to_string())
    }

    /// Trades the refresh token for a new set (`POST /api/auth/refresh`).
    fn refresh(&self) -> CliResult<()> {
        let body = json!({"refresh_token": self.session.borrow().refresh.expose()});
        let res = self
            .client
            .post(format!("{}/api/auth/refresh", self.base))
            .json(&body)
            .send()
            .map_err(server_err)?;
        let tokens: TokenSet = data(res).map_err(|e| {
            CliError::Server(format!("could not renew the sign-in ({e}); run join again"))
        })?;
        *self.session.borrow_mut() = Session::of(tokens);
        Ok(())
    }

    /// Makes the next request renew the sign-in first, as it would a minute before expiry.
    #[doc(hidden)]
    pub fn renew_before_next_request(&self) {
        self.session.borrow_mut().renew_at = Instant::now();
    }

    pub fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.bearer()?)
            .send()
            .map_err(server_err)?;
        data(res)
    }

    pub fn get_bytes(&self, path: &str) -> CliResult<Vec<u8>> {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.bearer()?)
            .send()
            .map_err(server_err)?;
        if !res.status().is_success() {
            return data::<serde_json::Value>(res).map(|_| vec![]);
        }
        Ok(res.bytes().map_err(server_err)?.to_vec())
    }

    pub fn put_weights(
        &self,
        run: i64,
        round: u32,
        body: Vec<u8>,
        upload: &Upload,
    ) -> CliResult<UploadReceipt> {
        let res = self
            .client
            .put(format!(
                "{}/api/runs/{run}/rounds/{round}/weights?{}",
                self.base,
                upload.query()
            ))
            .bearer_auth(self.bearer()?)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .map_err(server_err)?;
        data(res)
    }
}

/// What an upload of weights reports beside them.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub num_examples: u64,
    pub loss: f32,
    pub dice: f64,
    pub validation: Option<meshfed_shared::plan::ValidationScore>,
}

impl Upload {
    pub fn query(&self) -> String {
        meshfed_shared::api::upload::metrics_query(
            self.num_examples,
            self.loss,
            self.dice,
            self.validation.as_ref(),
        )
    }
}
