fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(meshfed_app::App);
    // The page is interactive from here: `performance.getEntriesByName("meshfed-interactive")`
    // gives the time from navigation start (the end-to-end tests report it).
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark("meshfed-interactive");
    }
}
