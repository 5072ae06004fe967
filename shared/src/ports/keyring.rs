//! `Keyring` port: envelope encryption. A fresh data key seals each secret with AES-256-GCM; the data key
//! is wrapped under a master key and bound to an encryption context (KMS in AWS, a 0600 key file locally).

use std::collections::BTreeMap;

use async_trait::async_trait;
use secrecy::SecretSlice;

/// Non-secret key/value pairs bound to a ciphertext; decrypting needs the exact same pairs.
/// Convention: `workspace`, `purpose` and the record id (e.g. `credential`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Canonical byte form used as AES-GCM associated data (sorted keys, length-prefixed).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for part in [k, v] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

/// A newly generated 256-bit data key: use the plaintext once, store only `wrapped`.
pub struct DataKey {
    pub plaintext: SecretSlice<u8>,
    pub wrapped: Vec<u8>,
    /// Identifies the master key version that wrapped it (KMS key ARN, or `local-v<n>`).
    pub master_key_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeyringError {
    /// Wrong context, tampered blob, or a key from another master key: indistinguishable on purpose.
    #[error("ciphertext or encryption context is invalid")]
    InvalidCiphertext,
    #[error("keyring unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Keyring: Send + Sync {
    /// Generates a data key wrapped under the current master key and bound to `context`.
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyringError>;

    /// Unwraps a data key; fails with `InvalidCiphertext` unless `context` matches exactly.
    async fn unwrap_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<SecretSlice<u8>, KeyringError>;

    /// Re-wraps a data key under the current master key (rotation) without exposing it to the caller.
    async fn rewrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<(Vec<u8>, String), KeyringError>;
}
