//! The training device: the browser's WebGPU when it offers an adapter, else burn's CPU
//! backend (flex) in WebAssembly.

use js_sys::{Promise, Reflect};
use meshfed_meshnet::burn::tensor::Device;
use meshfed_meshnet::kernel_check::{gpu_kernel_difference, TOLERANCE};
use meshfed_meshnet::mesh_conv::use_gpu_kernels;
use meshfed_shared::training::Backend;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

pub struct Chosen {
    pub device: Device,
    pub backend: Backend,
    pub adapter: String,
    /// Why WebGPU was not used, when it was not.
    pub note: Option<String>,
    /// On WebGPU, the most bytes one buffer may hold (the adapter's limits, which burn asks
    /// its device for).
    pub max_buffer: Option<u64>,
}

/// What `navigator.gpu` offers: the adapter's description and its one-buffer limit.
struct Adapter {
    description: String,
    max_buffer: Option<u64>,
}

pub async fn choose(cpu_only: bool) -> Chosen {
    let cpu = |note: Option<String>| Chosen {
        device: Device::flex(),
        backend: Backend::Cpu,
        adapter: "one thread · SIMD128 kernels".into(),
        note,
        max_buffer: None,
    };
    if cpu_only {
        return cpu(Some("CPU was asked for".into()));
    }
    let adapter = match probe_webgpu().await {
        Ok(adapter) => adapter,
        Err(why) => return cpu(Some(why)),
    };
    match Device::wgpu_options().init_async().await {
        Ok(device) => {
            let (kernels, note) = check_kernels(&device).await;
            Chosen {
                device,
                backend: Backend::WebGpu,
                adapter: format!("{} · {kernels}", adapter.description),
                note,
                max_buffer: adapter.max_buffer,
            }
        }
        Err(e) => cpu(Some(format!("WebGPU did not start: {e}"))),
    }
}

/// Runs MeshNet's direct GPU kernels once beside burn's convolution on `device`; where they
/// disagree, training uses burn's convolution and says why.
async fn check_kernels(device: &Device) -> (&'static str, Option<String>) {
    match gpu_kernel_difference(device).await {
        Ok(worst) if worst < TOLERANCE => ("direct kernels", None),
        outcome => {
            use_gpu_kernels(false);
            let why = match outcome {
                Ok(worst) => format!("differ from burn's by {worst:.1e}"),
                Err(e) => e.to_string(),
            };
            (
                "burn's convolution",
                Some(format!("the direct kernels failed their check here: {why}")),
            )
        }
    }
}

/// The adapter `navigator.gpu` offers, if any.
async fn probe_webgpu() -> Result<Adapter, String> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into())
        .map_err(|_| "no navigator in this worker".to_string())?;
    let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() {
        return Err("this browser does not offer WebGPU".into());
    }
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or("navigator.gpu.requestAdapter is missing")?;
    let promise: Promise = request
        .call0(&gpu)
        .ok()
        .and_then(|p| p.dyn_into().ok())
        .ok_or("requestAdapter failed")?;
    let adapter = JsFuture::from(promise)
        .await
        .map_err(|_| "requestAdapter failed".to_string())?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("WebGPU offers no adapter here".into());
    }
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| {
        Reflect::get(&info, &name.into())
            .ok()
            .and_then(|v| v.as_string())
            .filter(|s| !s.is_empty())
    };
    let parts: Vec<String> = ["vendor", "architecture", "description"]
        .iter()
        .filter_map(|n| field(n))
        .collect();
    let description = if parts.is_empty() {
        "WebGPU adapter".into()
    } else {
        parts.join(" ")
    };
    Ok(Adapter {
        description,
        max_buffer: max_buffer(&adapter),
    })
}

/// `min(maxStorageBufferBindingSize, maxBufferSize)` of a `GPUAdapter`'s limits.
fn max_buffer(adapter: &JsValue) -> Option<u64> {
    let limits = Reflect::get(adapter, &"limits".into()).ok()?;
    let limit = |name: &str| {
        Reflect::get(&limits, &name.into())
            .ok()
            .and_then(|v| v.as_f64())
            .filter(|v| *v > 0.0)
            .map(|v| v as u64)
    };
    let binding = limit("maxStorageBufferBindingSize")?;
    Some(limit("maxBufferSize").map_or(binding, |b| b.min(binding)))
}

use wasm_bindgen::JsCast;
