use leptos::prelude::*;

use super::server_status::ServerStatus;
use crate::session::Session;

/// The page frame: a header with the product name and navigation, the page, and a footer
/// with the live server status.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let session = Session::get();
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Meshfed"</a>
            <nav aria-label="Main">
                <Show when=move || session.is_signed_in()
                    fallback=|| view! {
                        <a href="/login">"Sign in"</a>
                        <a href="/signup">"Sign up"</a>
                    }>
                    <a href="/runs">"Runs"</a>
                    <a href="/train">"Train"</a>
                    <Show when=move || session.is_admin()>
                        <a href="/admin">"Admin"</a>
                    </Show>
                    <a href="/profile">{move || session.username()}</a>
                </Show>
            </nav>
        </header>
        <main id="main">{children()}</main>
        <footer class="site-footer">
            <ServerStatus/>
        </footer>
    }
}
