//! Sign up: the server's own rules (shared/) checked live, field by field; on success the
//! confirmation page, where the emailed code goes.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use meshfed_shared::api::auth::RegisterRequest;
use meshfed_shared::secret::Secret;
use web_sys::SubmitEvent;

use crate::api;
use crate::components::field::{Field, FormMessage};
use crate::components::submit::{failure, submit};

#[component]
pub fn SignupPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let first_name = RwSignal::new(String::new());
    let last_name = RwSignal::new(String::new());
    let organization = RwSignal::new(String::new());
    let attempted = RwSignal::new(false);
    let navigate = use_navigate();
    let register = submit(move |body: RegisterRequest| {
        let navigate = navigate.clone();
        async move {
            let profile = api::auth::register(&body).await?;
            navigate(
                &format!("/confirm?username={}", profile.username),
                Default::default(),
            );
            Ok(profile)
        }
    });
    let refused = failure(register);
    let server_error = move || refused.get().map(|e| (e.field(), e.to_string()));

    let request = move || RegisterRequest {
        username: username.get(),
        email: email.get(),
        password: Secret::new(password.get()),
        first_name: Some(first_name.get()),
        last_name: Some(last_name.get()),
        organization: Some(organization.get()).filter(|o| !o.trim().is_empty()),
        name: None,
    };
    // Every rule the server applies, as the person types.
    let problems = Memo::new(move |_| -> HashMap<String, String> {
        match request().validate() {
            Ok(_) => HashMap::new(),
            Err(errors) => errors.into_iter().map(|e| (e.field, e.reason)).collect(),
        }
    });
    let error_for = move |field: &'static str, value: RwSignal<String>| {
        Signal::derive(move || {
            if let Some((Some(f), message)) = server_error() {
                if f == field {
                    return Some(message);
                }
            }
            let shown = attempted.get() || !value.get().is_empty();
            shown
                .then(|| problems.with(|p| p.get(field).cloned()))
                .flatten()
        })
    };
    let form_error = Signal::derive(move || match server_error() {
        Some((None, message)) => Some(message),
        _ => None,
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        attempted.set(true);
        if problems.with(HashMap::is_empty) && !register.pending().get_untracked() {
            register.dispatch_local(request());
        }
    };

    view! {
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <form aria-label="Sign up" on:submit=on_submit novalidate=true>
                <Field id="signup-username" label="Username" value=username
                    autocomplete="username" required=true
                    hint="3–50 letters, digits or underscores"
                    error=error_for("username", username)/>
                <Field id="signup-email" label="Email" kind="email" value=email
                    autocomplete="email" required=true error=error_for("email", email)/>
                <Field id="signup-password" label="Password" kind="password" value=password
                    autocomplete="new-password" required=true
                    hint="At least 8 characters with upper and lower case, a digit and a symbol"
                    error=error_for("password", password)/>
                <Field id="signup-first-name" label="First name" value=first_name
                    autocomplete="given-name" required=true
                    error=error_for("first_name", first_name)/>
                <Field id="signup-last-name" label="Last name" value=last_name
                    autocomplete="family-name" required=true
                    error=error_for("last_name", last_name)/>
                <Field id="signup-organization" label="Organization (optional)"
                    value=organization autocomplete="organization"
                    error=error_for("organization", organization)/>
                <FormMessage message=form_error/>
                <button type="submit" disabled=move || register.pending().get()>
                    {move || if register.pending().get() { "Creating account…" } else { "Create account" }}
                </button>
            </form>
            <p>"Already have an account? " <a href="/login">"Sign in"</a></p>
        </section>
    }
}
