//! Messages on the wire: a JS object `{ json, <payload>: Uint8Array, … }` (see
//! `meshfed_shared::training`).

use js_sys::{Object, Reflect, Uint8Array};
use meshfed_shared::training::{WorkerReply, WorkerRequest};
use wasm_bindgen::{JsCast, JsValue};

/// A request and its payloads, as the page sent them.
pub struct Incoming {
    pub request: WorkerRequest,
    message: JsValue,
}

impl Incoming {
    pub fn parse(message: JsValue) -> Result<Self, String> {
        let json = Reflect::get(&message, &"json".into())
            .ok()
            .and_then(|j| j.as_string())
            .ok_or("a message without its json")?;
        let request = serde_json::from_str(&json)
            .map_err(|e| format!("a message the worker cannot read: {e}"))?;
        Ok(Self { request, message })
    }

    /// The bytes of payload `name`, or an error naming it.
    pub fn payload(&self, name: &str) -> Result<Vec<u8>, String> {
        Reflect::get(&self.message, &name.into())
            .ok()
            .and_then(|v| v.dyn_into::<Uint8Array>().ok())
            .map(|a| a.to_vec())
            .ok_or_else(|| format!("the {name} file is missing"))
    }
}

/// `reply` with `payloads`, ready for `postMessage`.
pub fn outgoing(reply: &WorkerReply, payloads: &[(&str, &[u8])]) -> JsValue {
    let object = Object::new();
    let json = serde_json::to_string(reply).unwrap_or_default();
    let _ = Reflect::set(&object, &"json".into(), &json.into());
    for (name, bytes) in payloads {
        let _ = Reflect::set(&object, &(*name).into(), &Uint8Array::from(*bytes).into());
    }
    object.into()
}
