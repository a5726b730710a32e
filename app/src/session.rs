//! Who is signed in. Tokens live in memory only, never in localStorage or sessionStorage:
//! any script on the origin can read those, and an XSS bug would then leak a refresh token
//! that lives for days. The Worker returns the refresh token in the JSON body (no HttpOnly
//! cookie, so the seeds' clients keep working), so memory is the safest place the platform
//! offers: a reload or a new tab means signing in again, and the access token is refreshed
//! silently a minute before it expires for as long as the tab is open.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use meshfed_shared::api::auth::TokenSet;
use meshfed_shared::secret::Secret;

use crate::api::{self, ClientError};

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_SECS: i64 = 60;

/// The signed-in person's tokens, shared through Leptos context.
#[derive(Clone, Copy)]
pub struct Session {
    tokens: RwSignal<Option<TokenSet>>,
    /// Why the last session ended, for the sign-in page ("Your session has expired…").
    ended: RwSignal<Option<String>>,
    /// Bumped on every sign-in, so a stale refresh timer knows it is stale.
    generation: RwSignal<u64>,
}

impl Session {
    pub fn provide() -> Self {
        let session = Self {
            tokens: RwSignal::new(None),
            ended: RwSignal::new(None),
            generation: RwSignal::new(0),
        };
        provide_context(session);
        session
    }

    pub fn get() -> Self {
        expect_context::<Self>()
    }

    pub fn is_signed_in(&self) -> bool {
        self.tokens.with(Option::is_some)
    }

    pub fn username(&self) -> Option<String> {
        self.tokens
            .with(|t| t.as_ref().map(|t| t.user.username.clone()))
    }

    pub fn is_admin(&self) -> bool {
        self.tokens.with(|t| {
            t.as_ref()
                .is_some_and(|t| t.user.roles.iter().any(|r| r == "admin"))
        })
    }

    pub fn access_token(&self) -> Option<Secret> {
        self.tokens
            .with_untracked(|t| t.as_ref().map(|t| t.access_token.clone()))
    }

    /// Keeps `tokens` and schedules their silent refresh.
    pub fn sign_in(&self, tokens: TokenSet) {
        self.ended.set(None);
        let generation = self.generation.get_untracked() + 1;
        self.generation.set(generation);
        let wait = (tokens.expires_in - REFRESH_MARGIN_SECS).max(5);
        let refresh_token = tokens.refresh_token.clone();
        self.tokens.set(Some(tokens));
        let session = *self;
        set_timeout(
            move || session.refresh(generation, refresh_token),
            Duration::from_secs(wait as u64),
        );
    }

    fn refresh(self, generation: u64, refresh_token: Secret) {
        if self.generation.get_untracked() != generation || !self.is_signed_in() {
            return; // signed out, or signed in again since this timer was set
        }
        spawn_local(async move {
            match api::auth::refresh(&refresh_token).await {
                Ok(tokens) if self.generation.get_untracked() == generation => self.sign_in(tokens),
                Ok(_) => {}
                Err(_) => self.end("Your session has ended. Please sign in again."),
            }
        });
    }

    /// Forgets the tokens; `why` is shown on the sign-in page.
    pub fn end(&self, why: &str) {
        self.tokens.set(None);
        self.ended.set(Some(why.to_string()));
    }

    /// Signs out at the server (revoking the refresh token's family), then here.
    pub async fn sign_out(&self) {
        let tokens = self.tokens.get_untracked();
        if let Some(t) = tokens {
            // Forget the tokens even when the server cannot be reached.
            let _ = api::auth::logout(&t.access_token, &t.refresh_token).await;
        }
        self.tokens.set(None);
        self.ended.set(Some("You have signed out.".into()));
    }

    pub fn ended_because(&self) -> Option<String> {
        self.ended.get()
    }

    /// An API error seen by a signed-in page: an expired or revoked session signs out.
    pub fn check(&self, error: &ClientError) {
        if error.is_session_over() {
            self.end("Your session has expired. Please sign in again.");
        }
    }
}

/// For pages that need a signed-in person: back to sign-in once there is none.
pub fn require_sign_in() -> Session {
    let session = Session::get();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move || {
        if !session.is_signed_in() {
            navigate("/login", Default::default());
        }
    });
    session
}

/// Loads `fetch(access token)` for a signed-in page; an expired session signs out.
pub fn signed_in_resource<T, F, Fut>(
    session: Session,
    fetch: F,
) -> LocalResource<Option<Result<T, ClientError>>>
where
    T: 'static,
    F: Fn(Secret) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<T, ClientError>> + 'static,
{
    let fetch = std::rc::Rc::new(fetch);
    LocalResource::new(move || {
        let fetch = fetch.clone();
        async move {
            let token = session.access_token()?;
            let answer = fetch(token).await;
            if let Err(e) = &answer {
                session.check(e);
            }
            Some(answer)
        }
    })
}
