//! The runs the signed-in person takes part in.

use leptos::prelude::*;
use meshfed_shared::api::runs::RunSummary;

use crate::api;
use crate::components::loaded::Loaded;
use crate::session::{require_sign_in, signed_in_resource};

#[component]
pub fn RunsPage() -> impl IntoView {
    let session = require_sign_in();
    let runs = signed_in_resource(
        session,
        |token| async move { api::runs::list(&token).await },
    );
    view! {
        <section class="card">
            <h1>"Federated runs"</h1>
            <p><a class="button" href="/runs/new">"New run"</a></p>
            <Loaded resource=runs loading="Loading runs…" view=runs_or_none/>
        </section>
    }
}

fn runs_or_none(runs: Vec<RunSummary>) -> AnyView {
    if runs.is_empty() {
        return view! {
            <p>"You take part in no run yet. Start one, or ask a colleague to invite you."</p>
        }
        .into_any();
    }
    view! { <RunTable runs/> }.into_any()
}

#[component]
fn RunTable(runs: Vec<RunSummary>) -> impl IntoView {
    view! {
        <table aria-label="Runs">
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Round"</th>
                <th scope="col">"Participants"</th><th scope="col">"Aggregation"</th>
                <th scope="col">"Created by"</th>
            </tr></thead>
            <tbody>
                {runs.into_iter().map(|r| view! {
                    <tr>
                        <td><a href=format!("/runs/{}", r.run.id)>{r.run.name.clone()}</a></td>
                        <td>{r.run.current_round}</td>
                        <td>{r.participants}</td>
                        <td>{r.run.aggregation.as_str()}</td>
                        <td>{r.run.creator.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
