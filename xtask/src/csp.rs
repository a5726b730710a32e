//! The app's security headers. Workers static assets serve `dist/` without running the
//! Worker, and take their headers from `dist/_headers`; this writes that file after Trunk has
//! built the app. The Content-Security-Policy allows scripts from the origin only, plus the
//! inline start-up scripts Trunk wrote into `index.html`, each by its SHA-256 (no
//! `unsafe-inline`); WebAssembly compiles under `wasm-unsafe-eval`. The API's responses get the
//! same protective headers from the Worker (`edge/src/security_headers.rs`).

use std::path::Path;
use std::process::{Command, Stdio};

use xtask::paths::tool_path;

/// The headers besides the policy, the same as the Worker's.
const COMMON: [(&str, &str); 6] = [
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

/// Writes `dist/_headers` for the built app.
pub fn write_headers(dist: &Path) -> Result<(), String> {
    let index = dist.join("index.html");
    let html = std::fs::read_to_string(&index)
        .map_err(|e| format!("cannot read {}: {e}", index.display()))?;
    let hashes = inline_scripts(&html)
        .into_iter()
        .map(sha256_base64)
        .collect::<Result<Vec<_>, _>>()?;
    let target = dist.join("_headers");
    std::fs::write(&target, headers_file(&hashes))
        .map_err(|e| format!("cannot write {}: {e}", target.display()))
}

/// The bodies of the `<script>` elements that have no `src`, as the browser hashes them.
pub fn inline_scripts(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let open = &after[..open_end];
        let body_and_rest = &after[open_end + 1..];
        let Some(close) = body_and_rest.find("</script>") else {
            break;
        };
        if !open.contains(" src=") {
            found.push(&body_and_rest[..close]);
        }
        rest = &body_and_rest[close + "</script>".len()..];
    }
    found
}

/// The app's policy, allowing exactly `script_hashes` (base64 SHA-256) inline.
pub fn policy(script_hashes: &[String]) -> String {
    let inline: String = script_hashes
        .iter()
        .map(|h| format!(" 'sha256-{h}'"))
        .collect();
    [
        "default-src 'self'".to_string(),
        format!("script-src 'self' 'wasm-unsafe-eval'{inline}"),
        // Leptos and the charts set style attributes.
        "style-src 'self' 'unsafe-inline'".into(),
        "img-src 'self' data: blob:".into(),
        "connect-src 'self'".into(),
        "worker-src 'self' blob:".into(),
        "object-src 'none'".into(),
        "base-uri 'none'".into(),
        "form-action 'self'".into(),
        "frame-ancestors 'none'".into(),
    ]
    .join("; ")
}

/// `_headers` in the Workers static assets format: every path gets the policy and the rest.
pub fn headers_file(script_hashes: &[String]) -> String {
    let mut out = String::from("/*\n");
    out.push_str(&format!(
        "  Content-Security-Policy: {}\n",
        policy(script_hashes)
    ));
    for (name, value) in COMMON {
        out.push_str(&format!("  {name}: {value}\n"));
    }
    out
}

/// SHA-256 in base64 through Node (a tool every build already needs).
fn sha256_base64(text: &str) -> Result<String, String> {
    use std::io::Write;
    let script = "process.stdout.write(require('crypto').createHash('sha256')\
                  .update(require('fs').readFileSync(0)).digest('base64'))";
    let mut child = Command::new("node")
        .args(["-e", script])
        .env("PATH", tool_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run node to hash the app's inline script: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("node has no stdin")?
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || hash.len() != 44 {
        return Err(format!(
            "node could not hash the app's inline script ({})",
            out.status
        ));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_inline_scripts_with_their_exact_bodies() {
        let html = r#"<head><script src="/a.js"></script><script type="module">import init from '/x.js';
init();</script><link rel="x"><script nonce="n">b()</script></head>"#;
        assert_eq!(
            inline_scripts(html),
            ["import init from '/x.js';\ninit();", "b()"]
        );
        assert!(inline_scripts("<p>no scripts</p>").is_empty());
        assert!(inline_scripts("<script>unclosed").is_empty());
    }

    #[test]
    fn the_policy_allows_the_hashes_and_nothing_inline_else() {
        let file = headers_file(&["abc=".into()]);
        assert!(file.starts_with("/*\n  Content-Security-Policy: default-src 'self'; "));
        assert!(file.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-abc=';"));
        assert!(file.contains("frame-ancestors 'none'"));
        let script_src = policy(&[]);
        let script_src = script_src
            .split("; ")
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert_eq!(script_src, "script-src 'self' 'wasm-unsafe-eval'");
        assert!(file.contains("  X-Content-Type-Options: nosniff\n"));
        assert_eq!(file.lines().count(), 1 + 1 + COMMON.len());
    }

    #[test]
    fn hashes_like_the_browser() {
        // echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            sha256_base64("alert(1)").unwrap(),
            "bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI="
        );
    }
}
