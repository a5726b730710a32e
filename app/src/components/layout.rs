use leptos::prelude::*;

use super::server_status::ServerStatus;

/// The page frame: a header with the product name and navigation, the page, and a footer
/// with the live server status.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/">"Meshfed"</a>
            <nav aria-label="Main">
                <a href="/login">"Sign in"</a>
            </nav>
        </header>
        <main id="main">{children()}</main>
        <footer class="site-footer">
            <ServerStatus/>
        </footer>
    }
}
