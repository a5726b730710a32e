//! The signed-in person's profile (from `GET /api/auth/me`) and sign-out.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use meshfed_shared::api::auth::UserProfile;

use crate::api;
use crate::session::Session;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let session = Session::get();
    let navigate = use_navigate();
    Effect::new(move || {
        if !session.is_signed_in() {
            navigate("/login", Default::default());
        }
    });
    let profile = LocalResource::new(move || async move {
        let token = session.access_token()?;
        let answer = api::auth::me(&token).await;
        if let Err(e) = &answer {
            session.check(e);
        }
        Some(answer)
    });
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
