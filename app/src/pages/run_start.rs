//! What a new run starts from: a fresh network, brainchop's pretrained weights (a preset the
//! Worker ships), or a TF.js model (`model.json` + weight shard) picked from disk and turned
//! into Meshfed's safetensors here, so a consortium fine-tunes its own brainchop model.

use leptos::prelude::*;
use meshfed_shared::api::runs::CreateRunRequest;
use meshfed_shared::meshnet::{brainchop, file};
use wasm_bindgen::JsCast;
use web_sys::{File, HtmlInputElement};

use crate::training::download::read_file;

pub const STARTS: [(&str, &str); 3] = [
    ("fresh", "A fresh network"),
    ("pretrained", "brainchop's pretrained weights"),
    ("upload", "A TF.js model from disk (model.json + weights)"),
];

/// The first file picked in the input `ev` came from.
pub fn picked_file(ev: &web_sys::Event) -> Option<File> {
    ev.target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        .and_then(|i| i.files())
        .and_then(|f| f.get(0))
}

/// Sets `request`'s model and initial weights as `start` says (`preset` is the model picked).
pub async fn apply(
    request: &mut CreateRunRequest,
    start: &str,
    preset: &str,
    files: (Option<File>, Option<File>),
) -> Result<(), String> {
    match start {
        "pretrained" => {
            if brainchop::Preset::find(preset).is_none() {
                return Err(
                    "Only brainchop's three models come with pretrained weights: pick one".into(),
                );
            }
            request.model = None;
            request.preset = Some(preset.to_string());
        }
        "upload" => {
            let (Some(json), Some(shard)) = files else {
                return Err("Pick the model.json and its weights file".into());
            };
            let (json, shard) = (read_file(&json).await?, read_file(&shard).await?);
            let (config, values) =
                brainchop::import(&json, &shard).map_err(|e| format!("The TF.js model: {e}"))?;
            let bytes = file::to_safetensors(&config, &values, Default::default());
            request.model = Some(config);
            request.initial_weights_safetensors = Some(base64(&bytes)?);
        }
        _ => {}
    }
    Ok(())
}

/// Standard base64 by the browser's `btoa` (over a byte-per-character string).
fn base64(bytes: &[u8]) -> Result<String, String> {
    let binary: String = bytes.iter().map(|&b| char::from(b)).collect();
    web_sys::window()
        .ok_or("No window")?
        .btoa(&binary)
        .map_err(|e| format!("Could not encode the model: {e:?}"))
}

/// The two file inputs of an uploaded TF.js model, shown when `start` is "upload".
#[component]
pub fn TfjsFiles(
    start: RwSignal<String>,
    json: RwSignal<Option<File>, LocalStorage>,
    shard: RwSignal<Option<File>, LocalStorage>,
) -> impl IntoView {
    move || {
        (start.get() == "upload").then(|| {
            view! {
                <label for="run-tfjs-json">"TF.js model.json"</label>
                <input id="run-tfjs-json" type="file" accept=".json"
                    on:change=move |ev| json.set(picked_file(&ev))/>
                <label for="run-tfjs-shard">"Its weights (.bin)"</label>
                <input id="run-tfjs-shard" type="file" accept=".bin"
                    on:change=move |ev| shard.set(picked_file(&ev))/>
            }
        })
    }
}
