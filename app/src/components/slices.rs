//! Three orthogonal slices of a volume with a label map tinted over them, each with a slider
//! to move through the volume.

use std::sync::Arc;

use leptos::html::Canvas;
use leptos::prelude::*;
use meshfed_shared::volume::slice::{intensity_range, slice, Plane};
use meshfed_shared::volume::{Labels, Volume};
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, ImageData};

#[component]
pub fn SliceViewer(
    volume: Signal<Option<Arc<Volume>>>,
    overlay: Signal<Option<Arc<Labels>>>,
) -> impl IntoView {
    let range = Memo::new(move |_| volume.with(|v| v.as_deref().map(intensity_range)));
    view! {
        <div class="slices">
            {Plane::ALL.into_iter().map(|plane| view! {
                <SliceView plane volume overlay range=range.into()/>
            }).collect_view()}
        </div>
    }
}

#[component]
fn SliceView(
    plane: Plane,
    volume: Signal<Option<Arc<Volume>>>,
    overlay: Signal<Option<Arc<Labels>>>,
    range: Signal<Option<(f32, f32)>>,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    let depth = move || volume.with(|v| v.as_ref().map_or(1, |v| v.dims[plane.axis()]));
    let index = RwSignal::new(None::<usize>);
    let current = move || {
        index
            .get()
            .unwrap_or(depth() / 2)
            .min(depth().saturating_sub(1))
    };
    Effect::new(move || {
        let (Some(canvas), Some(v), Some(range)) = (canvas.get(), volume.get(), range.get()) else {
            return;
        };
        let labels = overlay.get();
        let image = slice(&v, range, labels.as_deref(), plane, current());
        canvas.set_width(image.width as u32);
        canvas.set_height(image.height as u32);
        let context = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
        let data = ImageData::new_with_u8_clamped_array_and_sh(
            Clamped(&image.rgba),
            image.width as u32,
            image.height as u32,
        );
        if let (Some(context), Ok(data)) = (context, data) {
            let _ = context.put_image_data(&data, 0.0, 0.0);
        }
    });
    let label = format!("{} slice", plane.name());
    view! {
        <figure class="slice">
            <canvas node_ref=canvas role="img" aria-label=format!("{} view", plane.name())></canvas>
            <figcaption>
                <label>
                    {format!("{label} ")}
                    <input type="range" min="0" max=move || depth().saturating_sub(1)
                        prop:value=move || current().to_string()
                        aria-label=label.clone()
                        on:input=move |ev| index.set(event_target_value(&ev).parse().ok())/>
                    {move || format!(" {} / {}", current() + 1, depth())}
                </label>
            </figcaption>
        </figure>
    }
}
