//! Forgot password: a reset code by email, then a new password (the server's rules, live).

use leptos::prelude::*;
use meshfed_shared::auth::validation;
use meshfed_shared::secret::Secret;
use web_sys::SubmitEvent;

use crate::api::{self, ClientError};
use crate::components::field::{Field, FormMessage};
use crate::components::submit::{message, submit, success};

/// The new-password rules as the person types (empty until they start).
pub fn new_password_error(
    password: RwSignal<String>,
    confirm: RwSignal<String>,
    username: impl Fn() -> String + Send + Sync + 'static,
) -> (Signal<Option<String>>, Signal<Option<String>>) {
    let rules = Signal::derive(move || {
        let p = password.get();
        (!p.is_empty())
            .then(|| validation::password(&p, &username(), "").err())
            .flatten()
    });
    let matches = Signal::derive(move || {
        let c = confirm.get();
        (!c.is_empty() && c != password.get()).then(|| "Passwords do not match".to_string())
    });
    (rules, matches)
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let login = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let (rules, matches) = new_password_error(password, confirm, move || login.get());
    let request = submit(|who: String| async move { api::auth::forgot_password(who.trim()).await });
    let reset = submit(
        move |(who, code, new): (String, String, Secret)| async move {
            if rules.get_untracked().is_some()
                || password.get_untracked() != confirm.get_untracked()
            {
                let hint = "Choose a new password that meets the rules, twice.";
                return Err(ClientError::invalid(None, hint));
            }
            api::auth::reset_password(who.trim(), code.trim(), &new).await
        },
    );
    let (sent, done) = (success(request), success(reset));
    let (request_failed, reset_failed) = (message(request), message(reset));
    let error = Signal::derive(move || reset_failed.get().or_else(|| request_failed.get()));

    let on_request = move |ev: SubmitEvent| {
        ev.prevent_default();
        request.dispatch_local(login.get_untracked());
    };
    let on_reset = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new = Secret::new(password.get_untracked());
        reset.dispatch_local((login.get_untracked(), code.get_untracked(), new));
    };

    view! {
        <section class="card narrow">
            <h1>"Reset your password"</h1>
            {move || if done.with(Option::is_some) {
                view! {
                    <p role="status">"Your password was changed and every session was signed out."</p>
                    <p><a class="button" href="/login">"Sign in"</a></p>
                }.into_any()
            } else if sent.with(Option::is_some) {
                view! {
                    <p role="status">"If that account exists, a reset code is on its way by email."</p>
                    <form aria-label="Choose a new password" on:submit=on_reset>
                        <Field id="reset-code" label="Reset code" value=code
                            autocomplete="one-time-code" required=true/>
                        <Field id="reset-password" label="New password" kind="password"
                            value=password autocomplete="new-password" required=true error=rules/>
                        <Field id="reset-confirm" label="Repeat the new password" kind="password"
                            value=confirm autocomplete="new-password" required=true error=matches/>
                        <FormMessage message=error/>
                        <button type="submit" disabled=move || reset.pending().get()>"Set new password"</button>
                    </form>
                }.into_any()
            } else {
                view! {
                    <form aria-label="Request a reset code" on:submit=on_request>
                        <Field id="forgot-login" label="Username or email" value=login
                            autocomplete="username" required=true/>
                        <FormMessage message=error/>
                        <button type="submit" disabled=move || request.pending().get()>"Send reset code"</button>
                    </form>
                }.into_any()
            }}
        </section>
    }
}
