//! The app's submit flows as Leptos actions: an action's `pending()` is its form's busy state
//! and its latest value the answer, so no page keeps busy or error flags of its own. What a
//! success changes elsewhere (the session, the page shown) happens inside the action.

use std::future::Future;

use leptos::prelude::*;

use crate::api::ClientError;

/// A form's submission: the input it was sent with, and the verdict.
pub type Submit<I, T> = Action<I, Result<T, ClientError>>;

/// `send(input)` as an action (dispatched with `dispatch_local`: the app is single-threaded).
pub fn submit<I, T, F, Fut>(send: F) -> Submit<I, T>
where
    I: Clone + 'static,
    T: 'static,
    F: Fn(I) -> Fut + 'static,
    Fut: Future<Output = Result<T, ClientError>> + 'static,
{
    Action::new_local(move |input: &I| send(input.clone()))
}

/// The latest answer's failure; none while the action runs again.
pub fn failure<I, T>(action: Submit<I, T>) -> Signal<Option<ClientError>>
where
    I: 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        if action.pending().get() {
            return None;
        }
        action.value().get().and_then(Result::err)
    })
}

/// The latest answer's success, if it was one.
pub fn success<I, T>(action: Submit<I, T>) -> Signal<Option<T>>
where
    I: 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::ok))
}

/// The latest failure as the message to show.
pub fn message<I, T>(action: Submit<I, T>) -> Signal<Option<String>>
where
    I: 'static,
    T: Clone + Send + Sync + 'static,
{
    let failed = failure(action);
    Signal::derive(move || failed.get().map(|e| e.to_string()))
}
