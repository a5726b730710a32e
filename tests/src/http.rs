//! The one way the end-to-end tests speak HTTP to a Worker: `ctx.get(path)` (or `post`,
//! `put`, `delete`, `call(method, path)`), then any of `.bearer(token)`, `.json(&value)`,
//! `.body(bytes)`, `.header(name, value)`, and `.send().await` for an [`Answer`]: the status,
//! the headers and the body, read whole. A transport failure panics: the test fails there.

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::Ctx;

/// A request being built against the context's Worker.
pub struct Call {
    request: reqwest::RequestBuilder,
}

/// What the Worker answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Status and JSON body, the pair most assertions compare.
    pub fn status_json(&self) -> (u16, Value) {
        (self.status, self.json())
    }
}

impl Ctx {
    pub fn call(&self, method: Method, path: &str) -> Call {
        Call {
            request: self.http.request(method, self.url(path)),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.call(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.call(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.call(Method::DELETE, path)
    }
}

impl Call {
    pub fn bearer(self, token: impl AsRef<str>) -> Self {
        Call {
            request: self.request.bearer_auth(token.as_ref()),
        }
    }

    /// The bearer token when there is one.
    pub fn maybe_bearer(self, token: Option<&str>) -> Self {
        match token {
            Some(t) => self.bearer(t),
            None => self,
        }
    }

    pub fn json(self, body: &Value) -> Self {
        Call {
            request: self.request.json(body),
        }
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        Call {
            request: self.request.body(body),
        }
    }

    pub fn header(self, name: &str, value: &str) -> Self {
        Call {
            request: self.request.header(name, value),
        }
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(self) -> Answer {
        self.try_send().await.expect("the Worker answers")
    }

    /// Sends the request; `Err` when the connection fails (a test that kills the server).
    pub async fn try_send(self) -> Result<Answer, reqwest::Error> {
        let resp = self.request.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            bytes,
        })
    }
}
