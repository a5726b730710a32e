//! The signed-in person's profile (from `GET /api/auth/me`) and sign-out.

use leptos::prelude::*;
use leptos::task::spawn_local;
use meshfed_shared::api::auth::UserProfile;
use meshfed_shared::secret::Secret;
use web_sys::SubmitEvent;

use crate::api;
use crate::components::field::{Field, FormMessage};
use crate::pages::forgot::new_password_error;
use crate::session::{require_sign_in, signed_in_resource, Session};

#[component]
pub fn ProfilePage() -> impl IntoView {
    let session = require_sign_in();
    let profile = signed_in_resource(session, |token| async move { api::auth::me(&token).await });
    let sign_out = move |_| spawn_local(async move { session.sign_out().await });

    view! {
        <section class="card">
            <h1>"Your profile"</h1>
            {move || match profile.get() {
                None | Some(None) => view! { <p role="status">"Loading your profile…"</p> }.into_any(),
                Some(Some(Err(e))) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Some(Ok(p))) => view! { <ProfileDetails profile=p/> }.into_any(),
            }}
            <button type="button" on:click=sign_out>"Sign out"</button>
        </section>
        <ChangePassword/>
    }
}

/// Current password, then a new one twice; the server signs every other session out and
/// answers with fresh tokens for this one.
#[component]
fn ChangePassword() -> impl IntoView {
    let session = Session::get();
    let current = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let (rules, matches) = new_password_error(password, confirm, move || {
        session.username().unwrap_or_default()
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        done.set(None);
        let Some(token) = session.access_token() else {
            return;
        };
        let (old, new, again) = (
            Secret::new(current.get_untracked()),
            Secret::new(password.get_untracked()),
            Secret::new(confirm.get_untracked()),
        );
        busy.set(true);
        spawn_local(async move {
            match api::auth::change_password(&token, &old, &new, &again).await {
                Ok(tokens) => {
                    session.sign_in(tokens);
                    for field in [current, password, confirm] {
                        field.set(String::new());
                    }
                    done.set(Some(
                        "Password changed. Other sessions were signed out.".into(),
                    ));
                }
                Err(e) => {
                    session.check(&e);
                    error.set(Some(e.to_string()));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card narrow">
            <h2>"Change password"</h2>
            <form aria-label="Change password" on:submit=on_submit>
                <Field id="change-current" label="Current password" kind="password"
                    value=current autocomplete="current-password" required=true/>
                <Field id="change-new" label="New password" kind="password" value=password
                    autocomplete="new-password" required=true error=rules/>
                <Field id="change-confirm" label="Repeat the new password" kind="password"
                    value=confirm autocomplete="new-password" required=true error=matches/>
                <FormMessage message=error/>
                <button type="submit" disabled=move || busy.get()>"Change password"</button>
            </form>
            {move || done.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
        </section>
    }
}

#[component]
fn ProfileDetails(profile: UserProfile) -> impl IntoView {
    let yes_no = |b: bool| if b { "on" } else { "off" };
    view! {
        <dl class="profile">
            <dt>"Username"</dt><dd>{profile.username}</dd>
            <dt>"Email"</dt><dd>{profile.email}</dd>
            <dt>"Name"</dt><dd>{format!("{} {}", profile.first_name, profile.last_name)}</dd>
            <dt>"Organization"</dt><dd>{profile.organization.unwrap_or_else(|| "—".into())}</dd>
            <dt>"Roles"</dt><dd>{profile.roles.join(", ")}</dd>
            <dt>"Two-factor authentication"</dt><dd>{yes_no(profile.mfa_enabled)}</dd>
            <dt>"Member since"</dt><dd>{profile.created_at}</dd>
        </dl>
    }
}
