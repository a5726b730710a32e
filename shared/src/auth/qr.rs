//! The MFA setup QR code as an SVG data URI (no image crates: the Worker renders it).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use qrcode::render::svg;
use qrcode::QrCode;

/// `data:image/svg+xml;base64,…` of a QR code for `text` (an `otpauth://` URI).
pub fn svg_data_uri(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!("data:image/svg+xml;base64,{}", B64.encode(image)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_svg_data_uri() {
        let uri = svg_data_uri("otpauth://totp/Meshfed:ada?secret=JBSWY3DPEHPK3PXP").unwrap();
        let b64 = uri.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = String::from_utf8(B64.decode(b64).unwrap()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        assert!(svg.matches("<path").count() + svg.matches("<rect").count() > 0);
    }
}
