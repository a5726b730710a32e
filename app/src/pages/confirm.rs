//! Confirm the account with the emailed code; then the recovery mnemonic, shown this once.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use meshfed_shared::api::auth::Confirmation;
use web_sys::SubmitEvent;

use crate::api::{self, ClientError};
use crate::components::field::Field;
use crate::components::submit::{message, submit, success};

#[component]
pub fn ConfirmPage() -> impl IntoView {
    let query = use_query_map();
    let username = RwSignal::new(query.with_untracked(|q| q.get("username").unwrap_or_default()));
    let code = RwSignal::new(String::new());
    let confirm = submit(|(user, code): (String, String)| async move {
        if user.trim().is_empty() || code.trim().len() != 6 {
            let hint = "Enter your username and the 6-digit code from the email.";
            return Err(ClientError::invalid(None, hint));
        }
        api::auth::confirm(user.trim(), code.trim()).await
    });
    let resend = submit(|user: String| async move { api::auth::resend_code(user.trim()).await });
    let (confirm_failed, resend_failed) = (message(confirm), message(resend));
    let error = Signal::derive(move || confirm_failed.get().or_else(|| resend_failed.get()));
    let confirmed = success(confirm);
    let resent = success(resend);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        resend.clear();
        confirm.dispatch_local((username.get_untracked(), code.get_untracked()));
    };
    let on_resend = move |_| {
        confirm.clear();
        resend.dispatch_local(username.get_untracked());
    };

    view! {
        <section class="card narrow">
            <Show when=move || confirmed.with(Option::is_none)
                fallback=move || view! { <Mnemonic confirmation=confirmed.get().unwrap()/> }>
                <h1>"Confirm your email"</h1>
                <p>"We sent a 6-digit code to your email address."</p>
                <form aria-label="Confirm account" on:submit=on_submit>
                    <Field id="confirm-username" label="Username" value=username
                        autocomplete="username" required=true/>
                    <Field id="confirm-code" label="Confirmation code" value=code
                        autocomplete="one-time-code" required=true error=error/>
                    <button type="submit" disabled=move || confirm.pending().get()>"Confirm"</button>
                </form>
                <button type="button" class="secondary" on:click=on_resend
                    disabled=move || resend.pending().get()>"Send a new code"</button>
                {move || resent.get().map(|_| view! {
                    <p class="notice" role="status">"If that account is waiting, a new code is on its way."</p>
                })}
            </Show>
        </section>
    }
}

/// The recovery phrase, shown once: copy it, confirm it is written down, then sign in.
#[component]
fn Mnemonic(confirmation: Confirmation) -> impl IntoView {
    let written = RwSignal::new(false);
    let copied = RwSignal::new(None::<String>);
    let phrase = confirmation.mnemonic.expose().to_string();
    let words: Vec<String> = phrase.split_whitespace().map(String::from).collect();
    let copy = {
        let phrase = phrase.clone();
        move |_| {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&phrase);
            copied.set(Some("Copied to the clipboard.".into()));
        }
    };
    let navigate = use_navigate();
    view! {
        <h1>"Your recovery phrase"</h1>
        <p>
            "Account " <strong>{confirmation.username.clone()}</strong> " is confirmed. "
            "These words recover your account and your signing key. They are shown only now: "
            "write them down and keep them somewhere safe."
        </p>
        <ol class="mnemonic" aria-label="Recovery phrase">
            {words.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
        </ol>
        <button type="button" class="secondary" on:click=copy>"Copy phrase"</button>
        {move || copied.get().map(|c| view! { <p class="notice" role="status">{c}</p> })}
        <label class="check">
            <input type="checkbox" prop:checked=move || written.get()
                on:change=move |ev| written.set(event_target_checked(&ev))/>
            "I have written it down"
        </label>
        <button type="button" disabled=move || !written.get()
            on:click=move |_| navigate("/login", Default::default())>
            "Continue to sign in"
        </button>
    }
}
