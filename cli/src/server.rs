//! A signed-in session with a Meshfed server: the success/failure envelope, bearer token
//! (refreshed before it expires, so a participant can take part for days), and the few routes
//! a participant needs.

mod parts;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use meshfed_shared::api::auth::TokenSet;
use meshfed_shared::api::runs::UploadReceipt;
use meshfed_shared::auth::totp;
use meshfed_shared::envelope::RawEnvelope;
use meshfed_shared::secret::Secret;
use reqwest::blocking::{Client, RequestBuilder, Response};
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
    /// The server's address, as given.
    pub fn base(&self) -> &str {
        &self.base
    }

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

    /// Sends the request `build` makes, again after 2, 4, … 64 s (about 2 minutes in all:
    /// long enough for a Worker deploy or a runtime restart) while the answer is
    /// transient: no answer at all, or 502/503/504 (workerd answers 503 "Your worker
    /// restarted mid-request" and retries only GETs itself). Every route the CLI uses may be
    /// repeated: an upload replaces the participant's earlier one for the round. Also says
    /// whether it took more than one try.
    fn send(&self, build: impl Fn(&str) -> RequestBuilder) -> CliResult<(Response, bool)> {
        let mut tries = 1;
        loop {
            let result = build(&self.bearer()?).send();
            let why = match &result {
                Ok(res) if matches!(res.status().as_u16(), 502..=504) => res.status().to_string(),
                // A connection closed before its answer (`is_request`: hyper's
                // IncompleteMessage) is asked again too: every call the CLI makes may repeat.
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => e.to_string(),
                _ => String::new(),
            };
            if why.is_empty() || tries > RETRIES {
                return Ok((result.map_err(server_err)?, tries > 1));
            }
            let wait = Duration::from_secs(1 << tries);
            eprintln!(
                "the server did not answer ({why}); trying again in {}s",
                wait.as_secs()
            );
            std::thread::sleep(wait);
            tries += 1;
        }
    }

    pub fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        let url = format!("{}{path}", self.base);
        let (res, _) = self.send(|token| self.client.get(&url).bearer_auth(token))?;
        data(res)
    }

    pub fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> CliResult<T> {
        let url = format!("{}{path}", self.base);
        let (res, _) = self.send(|token| self.client.post(&url).bearer_auth(token).json(body))?;
        data(res)
    }

    pub fn put_octets<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> CliResult<T> {
        let url = format!("{}{path}", self.base);
        let (res, _) = self.send(|token| {
            self.client
                .put(&url)
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(body.clone())
        })?;
        data(res)
    }

    pub fn get_bytes(&self, path: &str) -> CliResult<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let (res, _) = self.send(|token| self.client.get(&url).bearer_auth(token))?;
        if !res.status().is_success() {
            return data::<serde_json::Value>(res).map(|_| vec![]);
        }
        Ok(res.bytes().map_err(server_err)?.to_vec())
    }

    /// Uploads weights for `round`. `None`: the round closed while the upload was being
    /// retried (a first try that the runtime cut short had counted and closed it).
    pub fn put_weights(
        &self,
        run: i64,
        round: u32,
        body: Vec<u8>,
        upload: &Upload,
    ) -> CliResult<Option<UploadReceipt>> {
        let url = format!(
            "{}/api/runs/{run}/rounds/{round}/weights?{}",
            self.base,
            upload.query()
        );
        let (res, retried) = self.send(|token| {
            self.client
                .put(&url)
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(body.clone())
        })?;
        if retried && res.status() == reqwest::StatusCode::CONFLICT {
            return Ok(None);
        }
        if res.status() == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
            // More than one request may carry here: in parts (still too large is a 413 again).
            return self.put_weights_in_parts(run, round, &body, upload);
        }
        data(res).map(Some)
    }
}

/// Further tries of a request whose answer was transient.
const RETRIES: u32 = 6;

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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::*;

    /// A loopback HTTP server that answers each request with the next of `answers`
    /// (status, body) and reports each request's first line: the runtime misbehaving as
    /// workerd does when it restarts a Worker, which the real Worker cannot be made to do.
    fn answering(answers: Vec<(u16, &'static str)>) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let (mut first, mut length) = (String::new(), 0);
                reader.read_line(&mut first).unwrap();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut sent = vec![0; length];
                reader.read_exact(&mut sent).unwrap();
                tx.send(format!("{} {}", first.trim(), sent.len())).unwrap();
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                reader.get_mut().write_all(answer.as_bytes()).unwrap();
            }
        });
        (base, rx)
    }

    fn signed_in(base: String) -> Server {
        Server {
            base,
            client: Client::new(),
            session: RefCell::new(Session {
                access: Secret::from("access"),
                refresh: Secret::from("refresh"),
                renew_at: Instant::now() + Duration::from_secs(3600),
            }),
        }
    }

    const RESTARTED: &str = r#"{"success": false, "error": {"code": "INTERNAL_ERROR",
        "message": "Your worker restarted mid-request."}}"#;

    #[test]
    fn a_restarting_runtime_is_asked_again() {
        let ok = r#"{"success": true, "data": {"current_round": 3}, "message": "ok"}"#;
        let (base, seen) = answering(vec![(503, RESTARTED), (200, ok)]);
        let detail: serde_json::Value = signed_in(base).get_json("/api/runs/1").unwrap();
        assert_eq!(detail["current_round"], 3);
        assert_eq!(seen.try_iter().count(), 2, "one retry after the 503");
    }

    #[test]
    fn a_connection_closed_before_its_answer_is_asked_again() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            // The first request's connection closes unanswered, as an overloaded proxy does.
            let (first, _) = listener.accept().unwrap();
            let mut line = String::new();
            BufReader::new(&first).read_line(&mut line).unwrap();
            drop(first);
            let (mut second, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(second.try_clone().unwrap());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header == "\r\n" {
                    break;
                }
            }
            let body = r#"{"success": true, "data": {"current_round": 4}, "message": "ok"}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            second.write_all(answer.as_bytes()).unwrap();
        });
        let detail: serde_json::Value = signed_in(base).get_json("/api/runs/1").unwrap();
        assert_eq!(detail["current_round"], 4);
    }

    #[test]
    fn an_upload_retried_into_a_closed_round_says_so_and_resends_its_body() {
        let closed = r#"{"success": false, "error": {"code": "CONFLICT",
            "message": "round 4 is closed"}}"#;
        let (base, seen) = answering(vec![(503, RESTARTED), (409, closed)]);
        let upload = Upload {
            num_examples: 1,
            loss: 0.5,
            dice: 0.5,
            validation: None,
        };
        let receipt = signed_in(base).put_weights(1, 4, vec![7; 10], &upload);
        assert!(matches!(receipt, Ok(None)), "{receipt:?}");
        let requests: Vec<String> = seen.try_iter().collect();
        assert_eq!(requests.len(), 2);
        assert!(
            requests
                .iter()
                .all(|r| r.starts_with("PUT /api/runs/1/rounds/4/weights?") && r.ends_with(" 10")),
            "{requests:?}"
        );
    }

    #[test]
    fn a_conflict_on_the_first_try_is_an_error() {
        let closed = r#"{"success": false, "error": {"code": "CONFLICT",
            "message": "round 4 is closed"}}"#;
        let (base, _seen) = answering(vec![(409, closed)]);
        let upload = Upload {
            num_examples: 1,
            loss: 0.5,
            dice: 0.5,
            validation: None,
        };
        let err = signed_in(base)
            .put_weights(1, 4, vec![7; 10], &upload)
            .unwrap_err();
        assert!(err.to_string().contains("round 4 is closed"), "{err}");
    }
}
