//! What is known about a subscriber besides the subscription: language, country, browser and OS derived
//! at subscribe time (no paid geo-IP: the country comes from the time zone, else the language's region),
//! the IANA time zone, and the custom attributes the SDK sets, typed and capped.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::ApiError;

pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_ATTRIBUTE_KEY: usize = 64;
pub const MAX_ATTRIBUTE_STRING: usize = 256;
/// Subscribers ride in deliver jobs (up to 100 a queue message of at most 256 KiB), so the attributes of
/// one are capped as a whole too.
pub const MAX_ATTRIBUTES_BYTES: usize = 1024;

/// A custom attribute value: string, number or bool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Number(f64),
    String(String),
}

pub type Attributes = BTreeMap<String, AttrValue>;

/// What the request carried besides its body, for deriving subscriber data.
#[derive(Debug, Clone, Default)]
pub struct RequestHints {
    pub accept_language: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestHints {
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Self {
        let text = |name: axum::http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self { accept_language: text(axum::http::header::ACCEPT_LANGUAGE), user_agent: text(axum::http::header::USER_AGENT) }
    }
}

fn attribute_error(key: &str, what: &str) -> ApiError {
    let shown: String = key.chars().take(MAX_ATTRIBUTE_KEY).collect();
    ApiError::Validation(format!("attributes.{shown}: {what}"))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_ATTRIBUTE_KEY && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// One attribute value from JSON; `None` for `null` (which removes the key on a merge).
fn attribute_value(key: &str, raw: &serde_json::Value) -> Result<Option<AttrValue>, ApiError> {
    Ok(Some(match raw {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Bool(b) => AttrValue::Bool(*b),
        serde_json::Value::Number(n) => AttrValue::Number(n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| attribute_error(key, "number out of range"))?),
        serde_json::Value::String(s) if s.chars().count() > MAX_ATTRIBUTE_STRING => return Err(attribute_error(key, &format!("string longer than {MAX_ATTRIBUTE_STRING} characters"))),
        serde_json::Value::String(s) => AttrValue::String(s.clone()),
        _ => return Err(attribute_error(key, "must be a string, number or bool")),
    }))
}

/// Applies `changes` to `base` (a `null` value removes the key) and checks the result against the caps.
/// The error names the offending key.
pub fn merge_attributes(base: &Attributes, changes: &serde_json::Map<String, serde_json::Value>) -> Result<Attributes, ApiError> {
    let mut out = base.clone();
    for (key, raw) in changes {
        if !valid_key(key) {
            return Err(attribute_error(key, &format!("keys are 1–{MAX_ATTRIBUTE_KEY} characters of letters, digits, _ - .")));
        }
        match attribute_value(key, raw)? {
            Some(v) => out.insert(key.clone(), v),
            None => out.remove(key),
        };
    }
    if out.len() > MAX_ATTRIBUTES {
        let first_new = changes.keys().find(|k| !base.contains_key(*k)).map_or("", String::as_str);
        return Err(attribute_error(first_new, &format!("at most {MAX_ATTRIBUTES} attributes per subscriber")));
    }
    let size = serde_json::to_string(&out).map_or(usize::MAX, |s| s.len());
    if size > MAX_ATTRIBUTES_BYTES {
        let largest = changes.iter().max_by_key(|(k, v)| k.len() + v.to_string().len()).map_or("", |(k, _)| k.as_str());
        return Err(attribute_error(largest, &format!("the attributes together are {size} bytes as JSON; at most {MAX_ATTRIBUTES_BYTES}")));
    }
    Ok(out)
}

/// An IANA time zone name, checked against the tz database; empty means none.
pub fn parse_time_zone(raw: Option<&str>) -> Result<Option<chrono_tz::Tz>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(name) => chrono_tz::Tz::from_str(name).map(Some).map_err(|_| ApiError::Validation("timezone is not an IANA time zone (e.g. Europe/Berlin)".into())),
    }
}

/// A BCP 47 language tag in its usual case (`en-US`, `zh-Hant-TW`), or `None` when it is not one.
pub fn normalise_language(raw: &str) -> Option<String> {
    let parts: Vec<&str> = raw.trim().split(['-', '_']).collect();
    let primary = parts.first()?;
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) || raw.len() > 35 {
        return None;
    }
    let mut out = primary.to_ascii_lowercase();
    for p in &parts[1..] {
        if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        out.push('-');
        match p.len() {
            2 => out.push_str(&p.to_ascii_uppercase()),
            4 => out.push_str(&(p[..1].to_ascii_uppercase() + &p[1..].to_ascii_lowercase())),
            _ => out.push_str(&p.to_ascii_lowercase()),
        }
    }
    Some(out)
}

/// The visitor's language: what the SDK read from `navigator.language`, else the first
/// `Accept-Language` entry of the highest weight.
pub fn language(sdk: Option<&str>, accept_language: Option<&str>) -> Option<String> {
    if let Some(tag) = sdk.and_then(normalise_language) {
        return Some(tag);
    }
    let mut best: Option<(f32, String)> = None;
    for entry in accept_language?.split(',') {
        let mut bits = entry.split(';');
        let Some(tag) = bits.next().and_then(normalise_language) else { continue };
        let q = bits.find_map(|b| b.trim().strip_prefix("q=")?.parse::<f32>().ok()).unwrap_or(1.0);
        if best.as_ref().is_none_or(|(bq, _)| q > *bq) {
            best = Some((q, tag));
        }
    }
    best.map(|(_, t)| t)
}

static ZONE_COUNTRIES: &str = include_str!("zone_countries.tsv");

/// The ISO country of a time zone (tzdb `zone.tab`, with its backward links), if the zone is one country's.
pub fn zone_country(zone: &str) -> Option<&'static str> {
    let lines: Vec<&str> = ZONE_COUNTRIES.lines().collect();
    let i = lines.binary_search_by(|l| l.split('\t').next().unwrap_or("").cmp(zone)).ok()?;
    lines[i].split('\t').nth(1)
}

/// The country: from the time zone when it names one, else from the language's region (`pt-BR` → BR).
pub fn country(zone: Option<&chrono_tz::Tz>, language: Option<&str>) -> Option<String> {
    if let Some(cc) = zone.and_then(|z| zone_country(z.name())) {
        return Some(cc.to_owned());
    }
    language?.split('-').skip(1).find(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_uppercase())).map(str::to_owned)
}

/// Browser and OS names from a User-Agent, by the same rules as the SDK's `clientInfo`.
pub fn browser_os(ua: &str) -> (String, String) {
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("SamsungBrowser/") {
        "Samsung Internet"
    } else if has("Chrome/") {
        if has("HeadlessChrome") || has("Chromium/") { "Chromium" } else { "Chrome" }
    } else if has("Safari/") {
        "Safari"
    } else {
        "Other"
    };
    let os = if has("Windows") {
        "Windows"
    } else if has("Android") {
        "Android"
    } else if has("iPhone") || has("iPad") || has("iPod") {
        "iOS"
    } else if has("Mac OS X") {
        "macOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Linux") {
        "Linux"
    } else {
        "Other"
    };
    (browser.to_owned(), os.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn attributes_are_typed_merged_and_capped_naming_the_key() {
        let a = merge_attributes(&Attributes::new(), &changes(json!({"plan": "pro", "seats": 3, "trial": false}))).unwrap();
        assert_eq!(a["plan"], AttrValue::String("pro".into()));
        assert_eq!(a["seats"], AttrValue::Number(3.0));
        assert_eq!(a["trial"], AttrValue::Bool(false));
        let b = merge_attributes(&a, &changes(json!({"trial": null, "seats": 4}))).unwrap();
        assert!(!b.contains_key("trial"), "null removes a key");
        assert_eq!(b["seats"], AttrValue::Number(4.0));
        // (changes, the key the error must name, why)
        let long_key = "k".repeat(65);
        let cases = [
            (json!({"plan": {"tier": 1}}), "plan", "objects are not a type"),
            (json!({"tags": [1, 2]}), "tags", "arrays are not a type"),
            (json!({"bio": "x".repeat(257)}), "bio", "string over 256 characters"),
            (json!({"has space": 1}), "has space", "key characters"),
            (json!({long_key.clone(): 1}), &long_key[..64], "key over 64 characters"),
        ];
        for (input, key, why) in cases {
            match merge_attributes(&a, &changes(input)) {
                Err(ApiError::Validation(m)) => assert!(m.starts_with(&format!("attributes.{key}:")), "{why}: {m}"),
                other => panic!("{why}: accepted {other:?}"),
            }
        }
        let many: serde_json::Map<_, _> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(matches!(merge_attributes(&Attributes::new(), &many), Err(ApiError::Validation(m)) if m.contains("at most 50")), "51 keys");
        let big: serde_json::Map<_, _> = (0..5).map(|i| (format!("k{i}"), json!("x".repeat(250)))).collect();
        assert!(matches!(merge_attributes(&Attributes::new(), &big), Err(ApiError::Validation(m)) if m.contains("bytes")), "5 × 250 characters passes each cap but not the total");
    }

    #[test]
    fn languages_and_countries_are_derived() {
        // (sdk value, Accept-Language, time zone, language, country, why)
        let cases = [
            (Some("en-us"), None, None, Some("en-US"), Some("US"), "the region of the language when there is no zone"),
            (Some("en-US"), None, Some("Europe/Berlin"), Some("en-US"), Some("DE"), "the zone wins: English browsers are used everywhere"),
            (None, Some("fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5"), None, Some("fr-CH"), Some("CH"), "the first Accept-Language entry"),
            (None, Some("de;q=0.5, pt-BR"), None, Some("pt-BR"), Some("BR"), "the highest weight, not the first"),
            (Some("not a tag!"), Some("es"), Some("America/Mexico_City"), Some("es"), Some("MX"), "an invalid SDK value falls back to the header"),
            (None, None, Some("Asia/Calcutta"), None, Some("IN"), "a backward link of the tz database"),
            (Some("zh_hant_tw"), None, Some("UTC"), Some("zh-Hant-TW"), Some("TW"), "UTC names no country; underscores and case are normalised"),
        ];
        for (sdk, accept, zone, lang, cc, why) in cases {
            let tz = parse_time_zone(zone).unwrap();
            let l = language(sdk, accept);
            assert_eq!(l.as_deref(), lang, "{why}");
            assert_eq!(country(tz.as_ref(), l.as_deref()).as_deref(), cc, "{why}");
        }
        assert!(parse_time_zone(Some("Mars/Olympus")).is_err());
        assert!(parse_time_zone(Some("")).unwrap().is_none());
    }

    #[test]
    fn browsers_and_systems_from_user_agents() {
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0", "Edge", "Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", "Safari", "macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Version/17.1 Mobile/15E148 Safari/604.1", "Safari", "iOS"),
            ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", "Chrome", "Android"),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", "Linux"),
            ("curl/8.0", "Other", "Other"),
        ];
        for (ua, browser, os) in cases {
            assert_eq!(browser_os(ua), (browser.to_owned(), os.to_owned()), "{ua}");
        }
    }
}
