//! Web Push message encryption (RFC 8291: `aes128gcm` content coding of RFC 8188, one record) and
//! VAPID (RFC 8292: ES256 JWT + `Authorization: vapid t=…, k=…`), on aws-lc-rs.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, ECDH_P256};
use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin, EcPublicKeyUncompressedBin};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Record size written in the header; a push message is a single record.
pub const RECORD_SIZE: u32 = 4096;
/// Header (salt 16 + rs 4 + idlen 1 + keyid 65) + padding delimiter + tag.
const OVERHEAD: usize = 86 + 1 + 16;
/// Push services must accept 4096-byte bodies; larger ones may be refused with 413.
pub const MAX_PLAINTEXT: usize = 4096 - OVERHEAD;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PushCryptoError {
    #[error("payload of {0} bytes exceeds the {MAX_PLAINTEXT}-byte Web Push limit")]
    TooLarge(usize),
    #[error("the subscription's p256dh key is not a valid P-256 point")]
    BadPublicKey,
    #[error("invalid VAPID private key")]
    BadVapidKey,
    #[error("crypto failure")]
    Crypto,
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    ctx.sign().as_ref().try_into().expect("32-byte tag")
}

fn public_bytes(key: &PrivateKey) -> Result<[u8; 65], PushCryptoError> {
    let public = key.compute_public_key().map_err(|_| PushCryptoError::Crypto)?;
    let bin: EcPublicKeyUncompressedBin = public.as_be_bytes().map_err(|_| PushCryptoError::Crypto)?;
    bin.as_ref().try_into().map_err(|_| PushCryptoError::Crypto)
}

/// Encrypts `plaintext` for a subscription with a fresh ephemeral key and salt.
pub fn encrypt(ua_public: &[u8; 65], auth_secret: &[u8; 16], plaintext: &[u8]) -> Result<Vec<u8>, PushCryptoError> {
    let as_private = PrivateKey::generate(&ECDH_P256).map_err(|_| PushCryptoError::Crypto)?;
    encrypt_with(&as_private, crate::crypto::random_bytes::<16>(), ua_public, auth_secret, plaintext)
}

/// RFC 8291 §3.4 with a given application-server key and salt (tests use the RFC's).
pub fn encrypt_with(as_private: &PrivateKey, salt: [u8; 16], ua_public: &[u8; 65], auth_secret: &[u8; 16], plaintext: &[u8]) -> Result<Vec<u8>, PushCryptoError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(PushCryptoError::TooLarge(plaintext.len()));
    }
    let as_public = public_bytes(as_private)?;
    let ecdh_secret: [u8; 32] = agreement::agree(as_private, UnparsedPublicKey::new(&ECDH_P256, ua_public), PushCryptoError::BadPublicKey, |s| {
        s.try_into().map_err(|_| PushCryptoError::Crypto)
    })?;
    let prk_key = hmac_sha256(auth_secret, &[&ecdh_secret]);
    let ikm = hmac_sha256(&prk_key, &[b"WebPush: info\0", ua_public, &as_public, &[1]]);
    let prk = hmac_sha256(&salt, &[&ikm]);
    let cek = hmac_sha256(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce = hmac_sha256(&prk, &[b"Content-Encoding: nonce\0", &[1]]);

    // One buffer: the header, then the record sealed in place behind it, then its tag.
    let mut body = Vec::with_capacity(plaintext.len() + OVERHEAD);
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(&as_public);
    let header = body.len();
    body.extend_from_slice(plaintext);
    body.push(2);
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek[..16]).map_err(|_| PushCryptoError::Crypto)?);
    let nonce = Nonce::try_assume_unique_for_key(&nonce[..12]).map_err(|_| PushCryptoError::Crypto)?;
    let tag = key.seal_in_place_separate_tag(nonce, Aad::empty(), &mut body[header..]).map_err(|_| PushCryptoError::Crypto)?;
    body.extend_from_slice(tag.as_ref());
    Ok(body)
}

/// A VAPID signing key: ES256 over P-256, distinct from the per-message ECDH keys.
pub struct VapidKey {
    pair: EcdsaKeyPair,
    public_b64: String,
}

impl VapidKey {
    /// A new key pair; returns the key and its 32-byte private scalar (to be sealed at rest).
    pub fn generate() -> Result<(Self, Vec<u8>), PushCryptoError> {
        let private = PrivateKey::generate(&ECDH_P256).map_err(|_| PushCryptoError::Crypto)?;
        let bin: EcPrivateKeyBin = private.as_be_bytes().map_err(|_| PushCryptoError::Crypto)?;
        let bytes = bin.as_ref().to_vec();
        Ok((Self::from_private(&bytes)?, bytes))
    }

    /// Rebuilds the key from its 32-byte private scalar.
    pub fn from_private(scalar: &[u8]) -> Result<Self, PushCryptoError> {
        let private = PrivateKey::from_private_key(&ECDH_P256, scalar).map_err(|_| PushCryptoError::BadVapidKey)?;
        let public = public_bytes(&private)?;
        let pair = EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, scalar, &public).map_err(|_| PushCryptoError::BadVapidKey)?;
        let public_b64 = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        Ok(Self { pair, public_b64 })
    }

    /// The `applicationServerKey` browsers subscribe with (base64url, uncompressed point).
    pub fn public_key(&self) -> &str {
        &self.public_b64
    }

    /// A signed VAPID JWT for a push-service origin, valid until `exp` (epoch seconds, ≤ 24 h ahead).
    pub fn jwt(&self, audience: &str, subject: &str, exp: i64) -> Result<String, PushCryptoError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({"aud": audience, "exp": exp, "sub": subject});
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = self.pair.sign(&rng, signing_input.as_bytes()).map_err(|_| PushCryptoError::Crypto)?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    /// The `Authorization` header value for a JWT from [`VapidKey::jwt`].
    pub fn authorization(&self, jwt: &str) -> String {
        format!("vapid t={jwt}, k={}", self.public_b64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey as VerifyKey, ECDSA_P256_SHA256_FIXED};

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// RFC 8291 Appendix A: every byte of the example message.
    #[test]
    fn rfc8291_appendix_a() {
        let as_private = PrivateKey::from_private_key(&ECDH_P256, &b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(public_bytes(&as_private).unwrap().to_vec(), b64("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"));
        let ua_public: [u8; 65] = b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcx aOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4").try_into().unwrap();
        let auth: [u8; 16] = b64("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(&as_private, salt, &ua_public, &auth, b"When I grow up, I want to be a watermelon").unwrap();
        let expected = b64(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml
             mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT
             pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
        assert_eq!(body.len(), 144, "the RFC's Content-Length 145 is off by one");
        assert_eq!(body, expected);
    }

    #[test]
    fn payload_limit_and_bad_keys() {
        let ua = PrivateKey::generate(&ECDH_P256).unwrap();
        let ua_public = public_bytes(&ua).unwrap();
        assert_eq!(encrypt(&ua_public, &[7; 16], &vec![b'x'; MAX_PLAINTEXT]).unwrap().len(), 4096);
        assert_eq!(encrypt(&ua_public, &[7; 16], &vec![b'x'; MAX_PLAINTEXT + 1]), Err(PushCryptoError::TooLarge(MAX_PLAINTEXT + 1)));
        let mut off_curve = ua_public;
        off_curve[40] ^= 0xff;
        assert_eq!(encrypt(&off_curve, &[7; 16], b"hi"), Err(PushCryptoError::BadPublicKey));
    }

    /// RFC 8292 §2.4: the example token verifies against its `k`.
    #[test]
    fn rfc8292_example_verifies() {
        let t = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA";
        let k = b64("BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs");
        let (input, sig) = t.rsplit_once('.').unwrap();
        VerifyKey::new(&ECDSA_P256_SHA256_FIXED, &k).verify(input.as_bytes(), &b64(sig)).expect("RFC example signature verifies");
        let claims: serde_json::Value = serde_json::from_slice(&b64(input.split('.').nth(1).unwrap())).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
    }

    #[test]
    fn vapid_sign_then_verify() {
        let (key, scalar) = VapidKey::generate().unwrap();
        let again = VapidKey::from_private(&scalar).unwrap();
        assert_eq!(key.public_key(), again.public_key(), "the private scalar is enough to rebuild the key");
        let jwt = again.jwt("https://fcm.googleapis.com", "mailto:ops@example.com", 1_900_000_000).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let k = b64(key.public_key());
        assert_eq!(k.len(), 65);
        VerifyKey::new(&ECDSA_P256_SHA256_FIXED, &k).verify(input.as_bytes(), &b64(sig)).expect("signature verifies");
        let claims: serde_json::Value = serde_json::from_slice(&b64(input.split('.').nth(1).unwrap())).unwrap();
        assert_eq!((claims["aud"].as_str(), claims["exp"].as_i64()), (Some("https://fcm.googleapis.com"), Some(1_900_000_000)));
        assert!(again.authorization(&jwt).starts_with("vapid t=ey"));
        assert_eq!(VapidKey::from_private(&[0u8; 32]).err(), Some(PushCryptoError::BadVapidKey));
    }
}
