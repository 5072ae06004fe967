//! `Keyring` (through envelope sealing) and `Secrets` contract cases.

use secrecy::ExposeSecret;
use webtrigger::ports::envelope::{open, seal};
use webtrigger::ports::{EncryptionContext, KeyringError, SecretsError};

use super::backends::Backend;

fn ctx(workspace: &str) -> EncryptionContext {
    EncryptionContext::new([("workspace", workspace), ("purpose", "credential"), ("credential", "cred_1")])
}

pub async fn data_key_bound_to_encryption_context(b: Backend) {
    let sealed = seal(b.keyring.as_ref(), &ctx("ws_a"), b"twilio-auth-token").await.unwrap();
    assert!(!sealed.ciphertext.windows(6).any(|w| w == b"twilio"), "ciphertext must not contain the secret");
    let opened = open(b.keyring.as_ref(), &ctx("ws_a"), &sealed).await.unwrap();
    assert_eq!(opened.expose_secret(), b"twilio-auth-token");
    assert_eq!(open(b.keyring.as_ref(), &ctx("ws_b"), &sealed).await.unwrap_err(), KeyringError::InvalidCiphertext);
    let wrong_purpose = EncryptionContext::new([("workspace", "ws_a"), ("purpose", "vapid"), ("credential", "cred_1")]);
    assert_eq!(b.keyring.unwrap_data_key(&sealed.wrapped_key, &wrong_purpose).await.unwrap_err(), KeyringError::InvalidCiphertext);
}

pub async fn tampered_ciphertext_rejected(b: Backend) {
    let sealed = seal(b.keyring.as_ref(), &ctx("ws_a"), b"secret").await.unwrap();
    let mut body = sealed.clone();
    let last = body.ciphertext.len() - 1;
    body.ciphertext[last] ^= 0x01;
    assert_eq!(open(b.keyring.as_ref(), &ctx("ws_a"), &body).await.unwrap_err(), KeyringError::InvalidCiphertext);
    let mut wrapped = sealed.clone();
    let mid = wrapped.wrapped_key.len() / 2;
    wrapped.wrapped_key[mid] ^= 0x01;
    assert_eq!(open(b.keyring.as_ref(), &ctx("ws_a"), &wrapped).await.unwrap_err(), KeyringError::InvalidCiphertext);
    let mut swapped = sealed.clone();
    swapped.wrapped_key = seal(b.keyring.as_ref(), &ctx("ws_a"), b"other").await.unwrap().wrapped_key;
    assert_eq!(open(b.keyring.as_ref(), &ctx("ws_a"), &swapped).await.unwrap_err(), KeyringError::InvalidCiphertext);
}

pub async fn rewrap_keeps_data_readable(b: Backend) {
    let sealed = seal(b.keyring.as_ref(), &ctx("ws_a"), b"vapid-private-key").await.unwrap();
    let (rewrapped, _key_id) = b.keyring.rewrap(&sealed.wrapped_key, &ctx("ws_a")).await.unwrap();
    let mut rotated = sealed.clone();
    rotated.wrapped_key = rewrapped;
    assert_eq!(open(b.keyring.as_ref(), &ctx("ws_a"), &rotated).await.unwrap().expose_secret(), b"vapid-private-key");
    assert_eq!(b.keyring.rewrap(&sealed.wrapped_key, &ctx("ws_b")).await.unwrap_err(), KeyringError::InvalidCiphertext);
}

pub async fn secrets_by_name(b: Backend) {
    assert_eq!(b.secrets.get("conformance-secret").await.unwrap().expose_secret(), b.secret_value);
    assert_eq!(b.secrets.get("missing-secret").await.unwrap_err(), SecretsError::NotFound("missing-secret".into()));
    assert!(matches!(b.secrets.get("../etc/passwd").await, Err(SecretsError::InvalidName(_))));
}
