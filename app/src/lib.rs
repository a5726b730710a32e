//! Meshfed's web app (Leptos, client-side rendering). Served by the Worker from the same
//! origin as the API, so every request is a relative `/api/…` fetch.

pub mod api;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use components::layout::Layout;
use pages::{home::HomePage, login::LoginPage, not_found::NotFoundPage};

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/login") view=LoginPage/>
                </Routes>
            </Layout>
        </Router>
    }
}
