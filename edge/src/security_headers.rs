//! Protective headers on every response the Worker sends. The app's static files get the
//! same ones (and a policy of their own) from `dist/_headers`, written by `cargo xtask` after
//! Trunk builds the app (`xtask/src/csp.rs`); an end-to-end test checks the two agree.

use worker::Response;

/// API responses are JSON or safetensors, never pages: nothing may load from them.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sent with every response, the app's and the API's.
pub const COMMON: [(&str, &str); 6] = [
    (
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    (
        "Permissions-Policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// `resp` with the headers set (on a copy of its headers, so a response whose own headers
/// are immutable, such as one passed through from a Durable Object, works too).
pub fn apply(resp: Response) -> worker::Result<Response> {
    let headers = resp.headers().clone();
    headers.set("Content-Security-Policy", API_POLICY)?;
    for (name, value) in COMMON {
        headers.set(name, value)?;
    }
    Ok(resp.with_headers(headers))
}
