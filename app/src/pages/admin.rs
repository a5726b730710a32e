//! Administration: every user (disable, enable, reset MFA) and the latest audit events.

use leptos::prelude::*;
use meshfed_shared::api::auth::{AuditEntry, UserProfile};
use meshfed_shared::time::rfc3339_from_unix_ms;

use crate::api::{self, ClientError};
use crate::components::loaded::Loaded;
use crate::components::submit::submit;
use crate::session::{require_sign_in, signed_in_resource};

#[component]
pub fn AdminPage() -> impl IntoView {
    let session = require_sign_in();
    let users = signed_in_resource(session, |t| async move { api::admin::users(&t).await });
    let audit = signed_in_resource(session, |t| async move { api::admin::audit(&t).await });
    let act = submit(move |(id, action): (String, &'static str)| async move {
        let token = session
            .access_token()
            .ok_or_else(|| ClientError::invalid(None, "Sign in again."))?;
        let answer = api::admin::act(&token, &id, action).await;
        if let Err(e) = &answer {
            session.check(e);
        }
        users.refetch();
        audit.refetch();
        answer.map(|p| format!("{}: {}", p.username, done(action)))
    });
    let message = move || {
        act.value()
            .get()
            .map(|answer| answer.unwrap_or_else(|e| e.to_string()))
    };
    let act = move |id: String, action: &'static str| {
        act.dispatch_local((id, action));
    };
    view! {
        <section class="card wide">
            <h1>"Administration"</h1>
            {move || message().map(|m| view! { <p class="notice" role="status">{m}</p> })}
            <h2>"Users"</h2>
            <Loaded resource=users loading="Loading users…"
                view={move |list: Vec<UserProfile>| view! { <UserTable users=list act=act/> }}/>
            <h2>"Audit log"</h2>
            <Loaded resource=audit loading="Loading the audit log…"
                view={|list: Vec<AuditEntry>| view! { <AuditTable entries=list/> }}/>
        </section>
    }
}

fn done(action: &str) -> &'static str {
    match action {
        "disable" => "disabled, and every session signed out",
        "enable" => "enabled",
        _ => "MFA reset; they set it up again at the next sign-in",
    }
}

#[component]
fn UserTable(
    users: Vec<UserProfile>,
    act: impl Fn(String, &'static str) + Copy + 'static,
) -> impl IntoView {
    view! {
        <table aria-label="Users">
            <thead><tr>
                <th scope="col">"Username"</th><th scope="col">"Email"</th><th scope="col">"Roles"</th>
                <th scope="col">"Confirmed"</th><th scope="col">"MFA"</th><th scope="col">"Status"</th>
                <th scope="col">"Actions"</th>
            </tr></thead>
            <tbody>
                {users.into_iter().map(|u| {
                    let (id, id2) = (u.id.clone(), u.id.clone());
                    let toggle = if u.is_active { "disable" } else { "enable" };
                    view! {
                        <tr>
                            <td>{u.username.clone()}</td>
                            <td>{u.email.clone()}</td>
                            <td>{u.roles.join(", ")}</td>
                            <td>{if u.is_confirmed { "yes" } else { "no" }}</td>
                            <td>{if u.mfa_enabled { "on" } else { "off" }}</td>
                            <td>{if u.is_active { "active" } else { "disabled" }}</td>
                            <td>
                                <button type="button" class="small"
                                    aria-label=format!("{} {}", if u.is_active { "Disable" } else { "Enable" }, u.username)
                                    on:click=move |_| act(id.clone(), toggle)>
                                    {if u.is_active { "Disable" } else { "Enable" }}
                                </button>
                                <button type="button" class="small secondary"
                                    aria-label=format!("Reset MFA of {}", u.username)
                                    on:click=move |_| act(id2.clone(), "mfa/reset")>
                                    "Reset MFA"
                                </button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    view! {
        <table aria-label="Audit log">
            <thead><tr>
                <th scope="col">"When (UTC)"</th><th scope="col">"Event"</th><th scope="col">"User"</th>
                <th scope="col">"Client"</th><th scope="col">"Detail"</th>
            </tr></thead>
            <tbody>
                {entries.into_iter().map(|e| view! {
                    <tr>
                        <td>{rfc3339_from_unix_ms(e.at)}</td>
                        <td>{e.event}</td>
                        <td>{e.user_id.unwrap_or_default()}</td>
                        <td>{e.client.unwrap_or_default()}</td>
                        <td>{e.detail.unwrap_or_default()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
