use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="card">
            <h1>"Train MeshNet together, keep every scan at home"</h1>
            <p>
                "Meshfed trains a brain-MRI segmentation network across clinics. Each participant "
                "trains in their own browser on their own GPU; only model weights travel to the "
                "edge, where they are averaged."
            </p>
            <p><a class="button" href="/login">"Sign in"</a></p>
        </section>
    }
}
