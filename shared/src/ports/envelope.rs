//! Envelope sealing over any [`Keyring`]: what domain code calls to store a secret at rest.

use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};

use super::keyring::{EncryptionContext, Keyring, KeyringError};
use crate::crypto;

/// A secret at rest: the wrapped data key and the AES-256-GCM ciphertext, both bound to the context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    #[serde(with = "b64")]
    pub wrapped_key: Vec<u8>,
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
    pub master_key_id: String,
}

/// Seals `plaintext` under a fresh data key bound to `context`.
pub async fn seal(keyring: &dyn Keyring, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed, KeyringError> {
    let dk = keyring.generate_data_key(context).await?;
    let ciphertext = crypto::seal(dk.plaintext.expose_secret(), &context.canonical_bytes(), plaintext)
        .map_err(|e| KeyringError::Unavailable(e.to_string()))?;
    Ok(Sealed { wrapped_key: dk.wrapped, ciphertext, master_key_id: dk.master_key_id })
}

/// Opens a [`Sealed`] value; a different context or any tampering gives `InvalidCiphertext`.
pub async fn open(keyring: &dyn Keyring, context: &EncryptionContext, sealed: &Sealed) -> Result<SecretSlice<u8>, KeyringError> {
    let dk = keyring.unwrap_data_key(&sealed.wrapped_key, context).await?;
    crypto::open(dk.expose_secret(), &context.canonical_bytes(), &sealed.ciphertext)
        .map(SecretSlice::from)
        .map_err(|_| KeyringError::InvalidCiphertext)
}

mod b64 {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        STANDARD.decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
