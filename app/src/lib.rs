//! Meshfed's web app (Leptos, client-side rendering). Served by the Worker from the same
//! origin as the API, so every request is a relative `/api/…` fetch.

pub mod api;
pub mod components;
pub mod pages;
pub mod session;
pub mod training;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use components::layout::Layout;
use pages::admin::AdminPage;
use pages::confirm::ConfirmPage;
use pages::forgot::ForgotPasswordPage;
use pages::profile::ProfilePage;
use pages::signup::SignupPage;
use pages::train::TrainPage;
use pages::{home::HomePage, login::LoginPage, not_found::NotFoundPage};
use pages::{run::RunPage, run_new::NewRunPage, runs::RunsPage};
use session::Session;

#[component]
pub fn App() -> impl IntoView {
    Session::provide();
    view! {
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/signup") view=SignupPage/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage/>
                    <Route path=path!("/confirm") view=ConfirmPage/>
                    <Route path=path!("/profile") view=ProfilePage/>
                    <Route path=path!("/runs") view=RunsPage/>
                    <Route path=path!("/admin") view=AdminPage/>
                    <Route path=path!("/train") view=TrainPage/>
                    <Route path=path!("/runs/new") view=NewRunPage/>
                    <Route path=path!("/runs/:id") view=RunPage/>
                </Routes>
            </Layout>
        </Router>
    }
}
