//! How a trigger checks its caller, on the raw request before anything is parsed: Standard Webhooks
//! (`webhook-id`/`webhook-timestamp`/`webhook-signature`, `whsec_` secrets), a shared header token,
//! GitHub's `X-Hub-Signature-256`, Stripe's `Stripe-Signature`, Shopify's `X-Shopify-Hmac-Sha256` and a
//! generic HMAC of the raw body (header, algorithm, encoding, prefix chosen per trigger). Pure functions over bytes.

use aws_lc_rs::hmac;
use base64::Engine;

use crate::inbox::signatures::equal;

/// Timestamps further than this from now (either way) are refused: the reference libraries' ±5 minutes.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    Malformed(&'static str),
    #[error("timestamp outside the ±5 minute tolerance")]
    StaleTimestamp,
    #[error("signature does not match")]
    BadSignature,
    #[error("the secret is not a valid whsec_ secret")]
    BadSecret,
    #[error("missing signature header")]
    MissingSignatureHeader,
    #[error("the signature does not start with the configured prefix")]
    MissingPrefix,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The HMAC key of a `whsec_…` secret: the base64-decoded bytes after the prefix (padded or not).
pub fn standard_key(secret: &str) -> Result<Vec<u8>, VerifyError> {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    if raw.is_empty() {
        return Err(VerifyError::BadSecret);
    }
    let unpadded = raw.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(unpadded).map_err(|_| VerifyError::BadSecret)
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn standard_sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, VerifyError> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &standard_key(secret)?);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(format!("{id}.{timestamp}.").as_bytes());
    ctx.update(body);
    Ok(format!("v1,{}", b64().encode(ctx.sign().as_ref())))
}

/// The three Standard Webhooks headers of a request.
pub struct StandardHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Verifies a Standard Webhooks request against any of `secrets` (rotation overlap). Returns the
/// `webhook-id`, the idempotency key.
pub fn standard_verify<'a>(secrets: &[&str], h: &StandardHeaders<'a>, body: &[u8], now: i64) -> Result<&'a str, VerifyError> {
    let id = h.id.filter(|i| !i.is_empty()).ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let ts_raw = h.timestamp.ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signature = h.signature.ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let ts: i64 = ts_raw.trim().parse().map_err(|_| VerifyError::Malformed("webhook-timestamp"))?;
    if (now - ts).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::StaleTimestamp);
    }
    for secret in secrets {
        let expected = standard_sign(secret, id, ts, body)?;
        let expected = expected.trim_start_matches("v1,").as_bytes();
        let matched = signature.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|given| equal(given.as_bytes(), expected));
        if matched {
            return Ok(id);
        }
    }
    Err(VerifyError::BadSignature)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    hex(ctx.sign().as_ref())
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn github_sign(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(secret, &[body]))
}

pub fn github_verify(secrets: &[&str], header: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
    let given = header.ok_or(VerifyError::MissingHeader("X-Hub-Signature-256"))?.trim();
    let given = given.strip_prefix("sha256=").ok_or(VerifyError::Malformed("X-Hub-Signature-256"))?.to_ascii_lowercase();
    secrets.iter().any(|s| equal(hmac_hex(s, &[body]).as_bytes(), given.as_bytes())).then_some(()).ok_or(VerifyError::BadSignature)
}

/// Stripe: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>[,v1=…]`.
pub fn stripe_sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hmac_hex(secret, &[format!("{timestamp}.").as_bytes(), body]))
}

pub fn stripe_verify(secrets: &[&str], header: Option<&str>, body: &[u8], now: i64) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::MissingHeader("Stripe-Signature"))?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    let t = timestamp.ok_or(VerifyError::Malformed("Stripe-Signature"))?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed("Stripe-Signature"));
    }
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err(VerifyError::StaleTimestamp);
    }
    let signed = [format!("{t}.").into_bytes(), body.to_vec()];
    let ok = secrets.iter().any(|s| {
        let expected = hmac_hex(s, &[&signed[0], &signed[1]]);
        signatures.iter().any(|given| equal(expected.as_bytes(), given.as_bytes()))
    });
    ok.then_some(()).ok_or(VerifyError::BadSignature)
}

/// The HMAC a generic-mode trigger expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    Sha256,
}

/// How the generic mode's digest is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DigestEncoding {
    Hex,
    Base64,
}

/// `HMAC(secret, body)` in `encoding`. SHA-1 only because senders still sign with it (e.g. older SaaS webhooks).
pub fn hmac_body(algorithm: HmacAlgorithm, encoding: DigestEncoding, secret: &str, body: &[u8]) -> String {
    let alg = match algorithm {
        HmacAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HmacAlgorithm::Sha256 => hmac::HMAC_SHA256,
    };
    let tag = hmac::sign(&hmac::Key::new(alg, secret.as_bytes()), body);
    match encoding {
        DigestEncoding::Hex => hex(tag.as_ref()),
        DigestEncoding::Base64 => b64().encode(tag.as_ref()),
    }
}

/// Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256(secret, raw body)>` (Shopify sends no custom headers).
pub fn shopify_sign(secret: &str, body: &[u8]) -> String {
    hmac_body(HmacAlgorithm::Sha256, DigestEncoding::Base64, secret, body)
}

pub fn shopify_verify(secrets: &[&str], header: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
    let given = header.ok_or(VerifyError::MissingHeader("X-Shopify-Hmac-Sha256"))?.trim();
    secrets.iter().any(|s| equal(shopify_sign(s, body).as_bytes(), given.as_bytes())).then_some(()).ok_or(VerifyError::BadSignature)
}

/// Generic HMAC: `header` carries `prefix` + the digest of the raw body. Hex compares case-insensitively
/// (senders differ); base64 exactly.
pub fn hmac_verify(secrets: &[&str], algorithm: HmacAlgorithm, encoding: DigestEncoding, prefix: &str, header: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
    let given = header.ok_or(VerifyError::MissingSignatureHeader)?.trim();
    let given = given.strip_prefix(prefix).ok_or(VerifyError::MissingPrefix)?;
    let given = if encoding == DigestEncoding::Hex { given.to_ascii_lowercase() } else { given.to_owned() };
    secrets.iter().any(|s| equal(hmac_body(algorithm, encoding, s, body).as_bytes(), given.as_bytes())).then_some(()).ok_or(VerifyError::BadSignature)
}

/// A shared secret sent as a header value (`Authorization: Bearer <token>` or a custom header).
pub fn token_verify(secrets: &[&str], header_name: &'static str, header: Option<&str>) -> Result<(), VerifyError> {
    let given = header.ok_or(VerifyError::MissingHeader(header_name))?.trim();
    let given = given.strip_prefix("Bearer ").unwrap_or(given);
    secrets.iter().any(|s| equal(s.as_bytes(), given.as_bytes())).then_some(()).ok_or(VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    // providers.md §5, V7 (the reference libraries' own tests).
    #[test]
    fn standard_webhooks_v7_vectors() {
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(standard_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(standard_sign("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body).unwrap(), "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn standard_webhooks_negative_cases() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let ts = 1614265330;
        let h = |sig: &'static str| StandardHeaders { id: Some("msg_p5jXN8AQM9LWM0D4loKWxJek"), timestamp: Some("1614265330"), signature: Some(sig) };
        assert_eq!(standard_verify(&[secret], &h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, ts), Ok("msg_p5jXN8AQM9LWM0D4loKWxJek"));
        assert_eq!(standard_verify(&[secret], &h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="), body, ts), Err(VerifyError::BadSignature), "last character changed");
        assert_eq!(standard_verify(&[secret], &h("v1,"), body, ts), Err(VerifyError::BadSignature));
        assert_eq!(standard_verify(&[secret], &h("v1,g0hM9SsE+OTPJTGt"), body, ts), Err(VerifyError::BadSignature), "truncated");
        assert!(standard_verify(&[secret], &h("v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,xyz"), body, ts).is_ok(), "any of several signatures");
        assert_eq!(standard_verify(&["whsec_"], &h("v1,x"), body, ts), Err(VerifyError::BadSecret));
        assert_eq!(standard_verify(&[secret], &h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), br#"{"test": 2432232315}"#, ts), Err(VerifyError::BadSignature), "body changed");
        assert_eq!(standard_verify(&[secret], &h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, ts + 301), Err(VerifyError::StaleTimestamp), "too old");
        assert_eq!(standard_verify(&[secret], &h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, ts - 301), Err(VerifyError::StaleTimestamp), "too far in the future");
        let missing = StandardHeaders { id: None, timestamp: Some("1"), signature: Some("v1,x") };
        assert_eq!(standard_verify(&[secret], &missing, body, ts), Err(VerifyError::MissingHeader("webhook-id")));
        let garbled = StandardHeaders { id: Some("m"), timestamp: Some("yesterday"), signature: Some("v1,x") };
        assert_eq!(standard_verify(&[secret], &garbled, body, ts), Err(VerifyError::Malformed("webhook-timestamp")));
        // Unpadded and prefix-less secrets decode to the same key.
        assert_eq!(standard_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(), standard_key(secret).unwrap());
        // Rotation: the previous secret still verifies during the overlap.
        assert!(standard_verify(&["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", secret], &h("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, ts).is_ok());
    }

    #[test]
    fn github_signature() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        let sig = github_sign("It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(sig, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        assert!(github_verify(&["It's a Secret to Everybody"], Some(&sig), b"Hello, World!").is_ok());
        assert_eq!(github_verify(&["It's a Secret to Everybody"], Some(&sig), b"Hello, World?"), Err(VerifyError::BadSignature));
        assert_eq!(github_verify(&["x"], None, b""), Err(VerifyError::MissingHeader("X-Hub-Signature-256")));
        assert_eq!(github_verify(&["x"], Some("sha1=abc"), b""), Err(VerifyError::Malformed("X-Hub-Signature-256")));
    }

    #[test]
    fn stripe_signature() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
        let header = stripe_sign("whsec_test", 1_700_000_000, body);
        assert!(stripe_verify(&["whsec_test"], Some(&header), body, 1_700_000_100).is_ok());
        assert!(stripe_verify(&["whsec_test"], Some(&format!("{header},v1=deadbeef,v0=ignored")), body, 1_700_000_000).is_ok(), "extra schemes and signatures");
        assert_eq!(stripe_verify(&["whsec_test"], Some(&header), body, 1_700_000_301), Err(VerifyError::StaleTimestamp));
        assert_eq!(stripe_verify(&["whsec_other"], Some(&header), body, 1_700_000_000), Err(VerifyError::BadSignature));
        assert_eq!(stripe_verify(&["whsec_test"], Some("v1=abc"), body, 0), Err(VerifyError::Malformed("Stripe-Signature")));
        assert_eq!(stripe_verify(&["whsec_test"], Some("t=1700000000"), body, 1_700_000_000), Err(VerifyError::Malformed("Stripe-Signature")));
    }

    #[test]
    fn shopify_signature() {
        // Cross-checked with an independent implementation:
        // printf '<body>' | openssl dgst -sha256 -hmac shpss_hush -binary | base64
        let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
        assert_eq!(shopify_sign("shpss_hush", body), "minWArgZa/Hsplvy6dlnaKNnlyvuW8Y2ovDcBlzZSE0=");
        assert!(shopify_verify(&["old", "shpss_hush"], Some("minWArgZa/Hsplvy6dlnaKNnlyvuW8Y2ovDcBlzZSE0="), body).is_ok());
        assert_eq!(shopify_verify(&["shpss_hush"], Some("minWArgZa/Hsplvy6dlnaKNnlyvuW8Y2ovDcBlzZSE0="), &body[1..]), Err(VerifyError::BadSignature), "body changed");
        assert_eq!(shopify_verify(&["shpss_hush"], Some("MINWARGZA/HSPLVY6DLNAKNNLYVUW8Y2OVDCBLZZSE0="), body), Err(VerifyError::BadSignature), "base64 is case-sensitive");
        assert_eq!(shopify_verify(&["other"], Some("minWArgZa/Hsplvy6dlnaKNnlyvuW8Y2ovDcBlzZSE0="), body), Err(VerifyError::BadSignature));
        assert_eq!(shopify_verify(&["shpss_hush"], None, body), Err(VerifyError::MissingHeader("X-Shopify-Hmac-Sha256")));
    }

    #[test]
    fn generic_hmac_published_vectors() {
        // RFC 2202 §3 and RFC 4231 §4.3, test case 2: key "Jefe".
        let data = b"what do ya want for nothing?";
        assert_eq!(hmac_body(HmacAlgorithm::Sha1, DigestEncoding::Hex, "Jefe", data), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        assert_eq!(hmac_body(HmacAlgorithm::Sha256, DigestEncoding::Hex, "Jefe", data), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert_eq!(hmac_body(HmacAlgorithm::Sha256, DigestEncoding::Base64, "Jefe", data), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        assert_eq!(hmac_body(HmacAlgorithm::Sha1, DigestEncoding::Base64, "Jefe", data), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
        let v = |alg, enc, prefix, header: Option<&str>| hmac_verify(&["Jefe"], alg, enc, prefix, header, data);
        assert!(v(HmacAlgorithm::Sha256, DigestEncoding::Hex, "sha256=", Some("sha256=5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843")).is_ok(), "hex in either case");
        assert!(v(HmacAlgorithm::Sha1, DigestEncoding::Hex, "", Some("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")).is_ok());
        assert!(v(HmacAlgorithm::Sha256, DigestEncoding::Base64, "", Some("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=")).is_ok());
        assert_eq!(v(HmacAlgorithm::Sha256, DigestEncoding::Hex, "sha256=", Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")), Err(VerifyError::MissingPrefix));
        assert_eq!(v(HmacAlgorithm::Sha1, DigestEncoding::Hex, "", Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")), Err(VerifyError::BadSignature), "sha256 digest where sha1 is configured");
        assert_eq!(v(HmacAlgorithm::Sha256, DigestEncoding::Base64, "", Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")), Err(VerifyError::BadSignature), "hex where base64 is configured");
        assert_eq!(v(HmacAlgorithm::Sha256, DigestEncoding::Base64, "", Some("W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEA=")), Err(VerifyError::BadSignature), "last character changed");
        assert_eq!(v(HmacAlgorithm::Sha256, DigestEncoding::Hex, "", None), Err(VerifyError::MissingSignatureHeader));
        assert_eq!(hmac_verify(&["Jefe"], HmacAlgorithm::Sha1, DigestEncoding::Hex, "", Some("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"), b"what do ya want for nothing!"), Err(VerifyError::BadSignature), "body changed");
    }

    #[test]
    fn header_token() {
        assert!(token_verify(&["s3cret-token"], "Authorization", Some("Bearer s3cret-token")).is_ok());
        assert!(token_verify(&["s3cret-token"], "X-Webhook-Token", Some("s3cret-token")).is_ok());
        assert_eq!(token_verify(&["s3cret-token"], "Authorization", Some("Bearer s3cret-tokeN")), Err(VerifyError::BadSignature));
        assert_eq!(token_verify(&["s3cret-token"], "Authorization", None), Err(VerifyError::MissingHeader("Authorization")));
    }
}
