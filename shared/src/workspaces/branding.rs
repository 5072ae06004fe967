//! Workspace branding: an accent colour and a small logo the dashboard shows. Both are checked here so the
//! dashboard can put them straight into CSS and an `<img src>`: the colour is exactly `#rrggbb`, the logo a
//! base64 data URL of a raster image whose bytes match its declared type. SVG is refused (it can carry script).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::http::ApiError;

/// The largest logo accepted, decoded.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

/// What the dashboard themes itself with; absent fields mean the product default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Branding {
    /// Accent colour as `#rrggbb` (lower case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// A `data:image/(png|jpeg|webp);base64,…` URL, at most 64 KB decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

/// A branding update; an absent field stays, `""` resets it to the default.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct BrandingPatch {
    pub primary_color: Option<String>,
    pub logo: Option<String>,
}

impl Branding {
    /// Applies a checked patch; `None` when nothing is left to store.
    pub fn apply(mut self, patch: &BrandingPatch) -> Result<Option<Self>, ApiError> {
        if let Some(c) = &patch.primary_color {
            self.primary_color = non_empty(c).map(parse_color).transpose()?;
        }
        if let Some(l) = &patch.logo {
            self.logo = non_empty(l).map(parse_logo).transpose()?;
        }
        Ok((self != Self::default()).then_some(self))
    }
}

fn non_empty(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|s| !s.is_empty())
}

/// `#rrggbb` (hex digits, any case), normalised to lower case.
pub fn parse_color(raw: &str) -> Result<String, ApiError> {
    let ok = raw.len() == 7 && raw.starts_with('#') && raw[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        return Err(ApiError::Validation(format!("branding.primary_color: `{}` is not a colour; use #rrggbb, e.g. #0e7490", raw.chars().take(40).collect::<String>())));
    }
    Ok(raw.to_ascii_lowercase())
}

/// A PNG, JPEG or WebP data URL whose decoded bytes start with that format's signature.
pub fn parse_logo(raw: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::Validation(format!("branding.logo: {why}"));
    let rest = raw.strip_prefix("data:").ok_or_else(|| bad("send the image as a data URL (data:image/png;base64,…)"))?;
    let (mime, data) = rest.split_once(";base64,").ok_or_else(|| bad("the data URL must be base64 (data:image/png;base64,…)"))?;
    let mime = mime.to_ascii_lowercase();
    if mime == "image/svg+xml" {
        return Err(bad("SVG logos are not accepted (they can carry scripts); upload a PNG, JPEG or WebP"));
    }
    if data.len() > MAX_LOGO_BYTES.div_ceil(3) * 4 {
        return Err(bad("the logo must be at most 64 KB"));
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| bad("the data URL's base64 is malformed"))?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(bad("the logo must be at most 64 KB"));
    }
    let matches = match mime.as_str() {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        "image/webp" => bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
        _ => return Err(bad("the logo must be a PNG, JPEG or WebP image")),
    };
    if !matches {
        return Err(bad(&format!("the file is not a {mime} image")));
    }
    Ok(format!("data:{mime};base64,{data}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

    #[test]
    fn colours_are_checked_and_lower_cased() {
        assert_eq!(parse_color("#0E7490").unwrap(), "#0e7490");
        for bad in ["0e7490", "#0e749", "#0e74901", "#gggggg", "red", "#0e7490;x:y", ""] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logos_must_be_small_raster_images_of_their_declared_type() {
        assert_eq!(parse_logo(PNG).unwrap(), PNG);
        assert!(parse_logo(&PNG.replace("image/png", "image/jpeg")).is_err(), "bytes are PNG, type says JPEG");
        assert!(parse_logo("data:image/svg+xml;base64,PHN2Zy8+").is_err());
        assert!(parse_logo("data:text/html;base64,PGI+").is_err());
        assert!(parse_logo("https://example.com/logo.png").is_err());
        assert!(parse_logo("data:image/png;base64,!!!").is_err());
        let big = base64::engine::general_purpose::STANDARD.encode([b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0; MAX_LOGO_BYTES]].concat());
        assert!(parse_logo(&format!("data:image/png;base64,{big}")).unwrap_err().to_string().contains("64 KB"));
    }

    #[test]
    fn empty_fields_reset_and_nothing_left_stores_none() {
        let set = Branding::default().apply(&BrandingPatch { primary_color: Some("#112233".into()), logo: Some(PNG.into()) }).unwrap().unwrap();
        let kept = set.clone().apply(&BrandingPatch { primary_color: None, logo: Some(String::new()) }).unwrap().unwrap();
        assert_eq!((kept.primary_color.as_deref(), kept.logo), (Some("#112233"), None));
        assert_eq!(set.apply(&BrandingPatch { primary_color: Some(" ".into()), logo: Some(String::new()) }).unwrap(), None);
    }
}
