//! A signed-in page's data through Leptos' own tools: `Transition` shows `loading` until the
//! first answer (and keeps the last view while the data reloads), `ErrorBoundary` shows a
//! failure as an alert, and the data itself goes to `view`.

use leptos::prelude::*;

use crate::api::ClientError;

/// What `session::signed_in_resource` loads: nothing once the session is gone.
pub type SignedIn<T> = LocalResource<Option<Result<T, ClientError>>>;

#[component]
pub fn Loaded<T, V, F>(
    resource: SignedIn<T>,
    /// The status shown until the first answer.
    loading: &'static str,
    view: F,
) -> impl IntoView
where
    T: Clone + 'static,
    V: IntoView + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    let shown = move || {
        let view = view.clone();
        resource.get().flatten().map(move |answer| answer.map(view))
    };
    view! {
        <Transition fallback=move || view! { <p role="status">{loading}</p> }>
            <ErrorBoundary fallback=|errors| view! { <Failures errors/> }>{shown}</ErrorBoundary>
        </Transition>
    }
}

/// The failures an `ErrorBoundary` caught, one alert each.
#[component]
fn Failures(errors: ArcRwSignal<Errors>) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .map(|(_, e)| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
            .collect_view()
    }
}
