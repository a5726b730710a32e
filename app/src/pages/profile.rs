//! The signed-in person's profile (from `GET /api/auth/me`) and sign-out.

use leptos::prelude::*;
use leptos::task::spawn_local;
use meshfed_shared::api::auth::UserProfile;
use meshfed_shared::secret::Secret;
use web_sys::SubmitEvent;

use crate::api::{self, ClientError};
use crate::components::field::{Field, FormMessage};
use crate::components::loaded::Loaded;
use crate::components::submit::{message, submit, success};
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
            <Loaded resource=profile loading="Loading your profile…"
                view={|p: UserProfile| view! { <ProfileDetails profile=p/> }}/>
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
    let (rules, matches) = new_password_error(password, confirm, move || {
        session.username().unwrap_or_default()
    });
    let change = submit(
        move |(old, new, again): (Secret, Secret, Secret)| async move {
            let token = session.access_token().ok_or_else(|| {
                ClientError::invalid(None, "Sign in again to change the password.")
            })?;
            let answer = api::auth::change_password(&token, &old, &new, &again).await;
            match answer {
                Ok(tokens) => {
                    session.sign_in(tokens);
                    for field in [current, password, confirm] {
                        field.set(String::new());
                    }
                    Ok(())
                }
                Err(e) => {
                    session.check(&e);
                    Err(e)
                }
            }
        },
    );
    let error = message(change);
    let done = success(change);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let secret = |field: RwSignal<String>| Secret::new(field.get_untracked());
        change.dispatch_local((secret(current), secret(password), secret(confirm)));
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
                <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
            </form>
            {move || done.get().map(|()| view! {
                <p class="notice" role="status">"Password changed. Other sessions were signed out."</p>
            })}
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
