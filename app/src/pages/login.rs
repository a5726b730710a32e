//! Sign in: password, then the second factor. A first sign-in sets MFA up (QR code, secret
//! and backup codes shown once); later ones ask for a code from the authenticator app.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use meshfed_shared::api::auth::{MfaSetup, CHALLENGE_MFA_SETUP};
use meshfed_shared::secret::Secret;
use web_sys::SubmitEvent;

use crate::api::auth::{self, LoginAnswer};
use crate::api::ClientError;
use crate::components::field::{Field, FormMessage};
use crate::components::submit::{message, submit};
use crate::session::Session;

#[derive(Clone)]
enum Step {
    Password,
    /// First sign-in: MFA must be set up; `session` verifies the first code.
    SetUp {
        session: Secret,
        setup: MfaSetup,
    },
    /// MFA is on: a TOTP or backup code.
    Code {
        session: Secret,
    },
}

/// What the person sends: their password, or a code at the step they are at.
#[derive(Clone)]
enum Attempt {
    Password { user: String, pass: Secret },
    Code { at: Step, entered: String },
}

/// Where an answer leads: signed in, MFA setup, or a code. A wrong code comes with a fresh
/// session to try again.
async fn advance(
    session: Session,
    step: RwSignal<Step>,
    answer: Result<LoginAnswer, ClientError>,
) -> Result<(), ClientError> {
    match answer {
        Ok(LoginAnswer::Tokens(tokens)) => session.sign_in(tokens),
        Ok(LoginAnswer::Challenge(c)) if c.challenge == CHALLENGE_MFA_SETUP => {
            let setup = auth::mfa_setup(&c.session).await?;
            step.set(Step::SetUp {
                session: setup.session.clone().unwrap_or_default(),
                setup,
            });
        }
        Ok(LoginAnswer::Challenge(c)) => step.set(Step::Code { session: c.session }),
        Err(e) => {
            if let Some(retry) = e.detail("session") {
                step.update(|s| match s {
                    Step::SetUp { session, .. } | Step::Code { session } => {
                        *session = Secret::new(retry)
                    }
                    Step::Password => {}
                });
            }
            return Err(e);
        }
    }
    Ok(())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Session::get();
    let step = RwSignal::new(Step::Password);
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let navigate = use_navigate();
    let attempt = submit(move |attempt: Attempt| async move {
        let answer = match attempt {
            Attempt::Password { user, pass } => {
                let answer = auth::login(user.trim(), &pass).await;
                password.set(String::new());
                answer
            }
            Attempt::Code { at, entered } => {
                let answer = match &at {
                    Step::SetUp { session, .. } => auth::mfa_verify(session, entered.trim()).await,
                    Step::Code { session } => auth::mfa_challenge(session, entered.trim()).await,
                    Step::Password => return Ok(()),
                };
                code.set(String::new());
                answer
            }
        };
        advance(session, step, answer).await
    });
    let error = message(attempt);
    Effect::new(move || {
        if session.is_signed_in() {
            navigate("/profile", Default::default());
        }
    });

    let on_password = move |ev: SubmitEvent| {
        ev.prevent_default();
        let pass = Secret::new(password.get_untracked());
        attempt.dispatch_local(Attempt::Password {
            user: username.get_untracked(),
            pass,
        });
    };
    let on_code = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (at, entered) = (step.get_untracked(), code.get_untracked());
        attempt.dispatch_local(Attempt::Code { at, entered });
    };

    let code_form = move || {
        view! {
            <form aria-label="Verify code" on:submit=on_code>
                <Field id="login-code" label="Authentication code" value=code
                    autocomplete="one-time-code" required=true
                    hint="6 digits from your authenticator app, or a backup code"
                    error=error/>
                <button type="submit" disabled=move || attempt.pending().get()>"Verify"</button>
            </form>
        }
    };

    view! {
        <section class="card narrow">
            {move || session.ended_because().map(|m| view! { <p class="notice" role="status">{m}</p> })}
            {move || match step.get() {
                Step::Password => view! {
                    <h1>"Sign in"</h1>
                    <form aria-label="Sign in" on:submit=on_password>
                        <Field id="login-username" label="Username or email" value=username
                            autocomplete="username" required=true/>
                        <Field id="login-password" label="Password" kind="password"
                            value=password autocomplete="current-password" required=true
                           />
                        <FormMessage message=error/>
                        <button type="submit" disabled=move || attempt.pending().get()>"Sign in"</button>
                    </form>
                    <p><a href="/forgot-password">"Forgot your password?"</a></p>
                    <p>"New here? " <a href="/signup">"Create an account"</a></p>
                }.into_any(),
                Step::SetUp { setup, .. } => view! {
                    <h1>"Set up two-factor authentication"</h1>
                    <MfaSetupView setup=setup/>
                    {code_form()}
                }.into_any(),
                Step::Code { .. } => view! {
                    <h1>"Two-factor authentication"</h1>
                    {code_form()}
                }.into_any(),
            }}
        </section>
    }
}

/// The QR code, the secret for typing in by hand, and the backup codes: all shown once.
#[component]
fn MfaSetupView(setup: MfaSetup) -> impl IntoView {
    view! {
        <p>"Scan this QR code with an authenticator app (or type the secret key in), then enter the code it shows."</p>
        <img class="qr" src=setup.qr_code.expose().to_string()
            alt="QR code for your authenticator app" width="200" height="200"/>
        <p>"Secret key: " <code aria-label="Secret key">{setup.secret.expose().to_string()}</code></p>
        <p>"Backup codes (each works once if you lose your phone; keep them safe):"</p>
        <ul class="backup-codes" aria-label="Backup codes">
            {setup.backup_codes.iter()
                .map(|c| view! { <li><code>{c.expose().to_string()}</code></li> })
                .collect_view()}
        </ul>
    }
}
