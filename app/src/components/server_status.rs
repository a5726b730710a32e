use leptos::prelude::*;
use std::time::Duration;

use crate::api;

/// How often the status line re-checks `/api/health`.
const REFRESH: Duration = Duration::from_secs(20);

/// A live status line: "Server online" with the version, or what is wrong.
#[component]
pub fn ServerStatus() -> impl IntoView {
    let health = LocalResource::new(api::health);
    // Keep the line true while the page stays open.
    let handle = set_interval_with_handle(move || health.refetch(), REFRESH).ok();
    on_cleanup(move || {
        if let Some(h) = handle {
            h.clear();
        }
    });

    let line = move || match health.get() {
        None => ("checking", "Checking server…".to_string()),
        Some(Ok(report)) if report.is_ok() => (
            "online",
            format!("Server online · Meshfed {}", report.version),
        ),
        Some(Ok(report)) => (
            "degraded",
            format!("Server degraded · Meshfed {}", report.version),
        ),
        Some(Err(e)) => ("offline", format!("Server offline: {e}")),
    };
    view! {
        <p role="status" aria-live="polite" class=move || format!("server-status {}", line().0)>
            {move || line().1}
        </p>
    }
}
