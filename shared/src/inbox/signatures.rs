//! Provider webhook signatures, checked on the raw request before anything is parsed or stored:
//! Meta `X-Hub-Signature-256`, Twilio `X-Twilio-Signature` (form and JSON `bodySHA256` forms, with the
//! port variants Twilio's own validators accept), and constant-time secret comparison for Whapi.

use aws_lc_rs::{constant_time, digest, hmac};
use base64::Engine;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Hex SHA-256, the form webhook secrets are stored in.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
pub fn meta_valid(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes());
    let expected = hex(hmac::sign(&key, body).as_ref());
    equal(expected.as_bytes(), given.to_ascii_lowercase().as_bytes())
}

fn twilio_signature(auth_token: &str, message: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, message.as_bytes()).as_ref())
}

/// The URL as requested, with its port removed, and with the scheme's default port added.
fn url_variants(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else { return vec![url.to_owned()] };
    let (authority, tail) = rest.find(['/', '?']).map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
    let host = authority.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(authority, |(h, _)| h);
    let default_port = if scheme == "https" { 443 } else { 80 };
    let mut out = vec![url.to_owned(), format!("{scheme}://{host}{tail}"), format!("{scheme}://{host}:{default_port}{tail}")];
    out.dedup();
    out
}

/// Form webhooks: the URL followed by every parameter name and value, names sorted, repeated values
/// sorted and de-duplicated.
pub fn twilio_form_valid(auth_token: &str, url: &str, params: &[(String, String)], header: Option<&str>) -> bool {
    let Some(given) = header.map(str::trim) else { return false };
    let mut sorted: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let suffix: String = sorted.iter().flat_map(|(k, v)| [*k, *v]).collect();
    url_variants(url).iter().any(|u| equal(twilio_signature(auth_token, &format!("{u}{suffix}")).as_bytes(), given.as_bytes()))
}

/// JSON webhooks: the signature covers the URL (which carries `bodySHA256`), and the body must hash to it.
pub fn twilio_json_valid(auth_token: &str, url: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(given) = header.map(str::trim) else { return false };
    let claimed = url.split_once('?').map(|(_, q)| q).unwrap_or_default().split('&').find_map(|p| p.strip_prefix("bodySHA256="));
    let Some(claimed) = claimed else { return false };
    equal(sha256_hex(body).as_bytes(), claimed.as_bytes()) && url_variants(url).iter().any(|u| equal(twilio_signature(auth_token, u).as_bytes(), given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn call(caller: &str) -> Vec<(String, String)> {
        params(&[("CallSid", "CA1234567890ABCDE"), ("Caller", caller), ("Digits", "1234"), ("From", caller), ("To", "+18005551212")])
    }

    #[test]
    fn twilio_v4_form_vectors_and_port_variants() {
        let p = call("+14158675309");
        assert!(twilio_form_valid("12345", URL, &p, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")));
        assert!(twilio_form_valid("12345", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", &p, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")));
        assert!(twilio_form_valid("12345", URL, &p, Some("kvajT1Ptam85bY51eRf/AJRuM3w=")));
        assert!(twilio_form_valid("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", &p, Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")));
        assert!(twilio_form_valid("12345", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", &p, Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")));
        let dup = params(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]);
        assert!(twilio_form_valid("12345", URL, &dup, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU=")));
        assert!(!twilio_form_valid("12345", URL, &p, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8X")), "a wrong signature");
        assert!(!twilio_form_valid("54321", URL, &p, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")), "a wrong token");
        assert!(!twilio_form_valid("12345", URL, &p, None), "unsigned");
        let mut tampered = p.clone();
        tampered[2].1 = "9999".into();
        assert!(!twilio_form_valid("12345", URL, &tampered, Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=")));
    }

    #[test]
    fn twilio_v5_docs_example() {
        assert!(twilio_form_valid("12345", URL, &call("+12349013030"), Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")));
    }

    #[test]
    fn twilio_v4_json_body() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(sha256_hex(body), hash);
        assert!(twilio_json_valid("12345", &format!("{URL}&bodySHA256={hash}"), body, Some("a9nBmqA0ju/hNViExpshrM61xv4=")));
        assert!(twilio_json_valid("12345", &format!("https://mycompany.com/myapp.php?bodySHA256={hash}"), body, Some("y77kIzt2vzLz71DgmJGsen2scGs=")));
        let empty = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        assert!(twilio_json_valid("12345", &format!("{URL}&bodySHA256={empty}"), b"{}", Some("Ldidvp12m26NI7eqEvxnEpkd9Hc=")), "only in the :443 form");
        assert!(!twilio_json_valid("12345", &format!("{URL}&bodySHA256={hash}"), br#"{"property": "other"}"#, Some("a9nBmqA0ju/hNViExpshrM61xv4=")), "the body must match its hash");
    }

    #[test]
    fn meta_v6() {
        let header = "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221";
        assert!(meta_valid("TEST_APP_SECRET", b"test", Some(header)));
        assert!(!meta_valid("TEST_APP_SECRET", b"test!", Some(header)));
        assert!(!meta_valid("OTHER_SECRET", b"test", Some(header)));
        assert!(!meta_valid("TEST_APP_SECRET", b"test", Some("0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221")), "prefix required");
        assert!(!meta_valid("TEST_APP_SECRET", b"test", None));
    }
}
