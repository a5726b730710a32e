//! Randomness from the runtime's CSPRNG (`crypto.getRandomValues`).

use wasm_bindgen::JsCast;

use crate::error::{EdgeError, EdgeResult};

/// `N` bytes from `crypto.getRandomValues`.
pub fn bytes<const N: usize>() -> EdgeResult<[u8; N]> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .ok_or_else(|| EdgeError::Internal("crypto.getRandomValues is unavailable".into()))?;
    let mut buf = [0u8; N];
    crypto
        .get_random_values_with_u8_array(&mut buf)
        .map_err(|_| EdgeError::Internal("crypto.getRandomValues failed".into()))?;
    Ok(buf)
}

/// A random identifier: 16 bytes as 32 hex characters.
pub fn id() -> EdgeResult<String> {
    Ok(hex::encode(bytes::<16>()?))
}
