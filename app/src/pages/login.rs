use leptos::prelude::*;
use web_sys::SubmitEvent;

/// The sign-in form. It is laid out and labelled now; the identity service wires it up.
#[component]
pub fn LoginPage() -> impl IntoView {
    let (notice, set_notice) = signal(None::<&'static str>);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        set_notice.set(Some(
            "Signing in is not available yet: the identity service is coming.",
        ));
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <form aria-label="Sign in" on:submit=on_submit>
                <label for="login-username">"Username or email"</label>
                <input id="login-username" name="username" type="text"
                    autocomplete="username" required=true/>
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password"
                    autocomplete="current-password" required=true/>
                <button type="submit">"Sign in"</button>
            </form>
            {move || notice.get().map(|n| view! { <p class="notice" role="alert">{n}</p> })}
        </section>
    }
}
