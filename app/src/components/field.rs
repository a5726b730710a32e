use leptos::prelude::*;

/// A labelled input with its error shown beneath it (and announced to screen readers).
#[component]
pub fn Field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional, into)] error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(default = false)] required: bool,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <label for=id>{label}</label>
        {hint.map(|h| view! { <p class="hint">{h}</p> })}
        <input id=id name=id type=kind autocomplete=autocomplete required=required
            aria-invalid=move || if error.with(Option::is_some) { "true" } else { "false" }
            aria-describedby=error_id.clone()
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))/>
        <p class="field-error" id=error_id>{move || error.get()}</p>
    }
}

/// A form-level message: an error (`role=alert`) or a notice.
#[component]
pub fn FormMessage(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|m| view! { <p class="form-error" role="alert">{m}</p> })
    }
}
