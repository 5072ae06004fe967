//! Envelope sealing over any [`Keyring`]: what domain code calls to store a secret at rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Unwrapped data keys kept for a few minutes, so a secret read on every request (a trigger's, an event
/// endpoint's) costs one keyring call (KMS Decrypt on AWS) per process per TTL instead of one per request.
/// Entries are keyed by the context together with the wrapped key: a sealed value moved under another
/// context misses the cache and is refused by the keyring. The ciphertext is still opened (and its tag
/// checked) on every call.
pub struct DataKeyCache {
    entries: Mutex<HashMap<Vec<u8>, CachedKey>>,
    ttl: Duration,
}

/// When it was unwrapped, and the data key.
type CachedKey = (Instant, Arc<SecretSlice<u8>>);

/// More distinct keys than this and the cache starts over (bounded memory).
const MAX_CACHED_KEYS: usize = 4096;

impl DataKeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), ttl }
    }

    fn lookup(&self, id: &[u8]) -> Option<Arc<SecretSlice<u8>>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(id).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, key)| key.clone())
    }

    fn store(&self, id: Vec<u8>, key: Arc<SecretSlice<u8>>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(id, (Instant::now(), key));
    }
}

impl Default for DataKeyCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(300))
    }
}

/// [`open`] with the data key taken from `cache` when it holds it.
pub async fn open_cached(cache: &DataKeyCache, keyring: &dyn Keyring, context: &EncryptionContext, sealed: &Sealed) -> Result<SecretSlice<u8>, KeyringError> {
    let aad = context.canonical_bytes();
    // Length-prefixed, so no context/wrapped-key pair can spell another's.
    let mut id = (aad.len() as u32).to_be_bytes().to_vec();
    id.extend_from_slice(&aad);
    id.extend_from_slice(&sealed.wrapped_key);
    let dk = match cache.lookup(&id) {
        Some(dk) => dk,
        None => {
            let dk = Arc::new(keyring.unwrap_data_key(&sealed.wrapped_key, context).await?);
            cache.store(id, dk.clone());
            dk
        }
    };
    crypto::open(dk.expose_secret(), &aad, &sealed.ciphertext).map(SecretSlice::from).map_err(|_| KeyringError::InvalidCiphertext)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::ports::keyring::DataKey;

    /// "Wraps" a fixed data key as context || key and counts unwraps.
    #[derive(Default)]
    struct CountingKeyring {
        unwraps: AtomicUsize,
    }

    #[async_trait]
    impl Keyring for CountingKeyring {
        async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyringError> {
            let key = [7u8; 32];
            Ok(DataKey { plaintext: SecretSlice::from(key.to_vec()), wrapped: [context.canonical_bytes(), key.to_vec()].concat(), master_key_id: "test".into() })
        }

        async fn unwrap_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<SecretSlice<u8>, KeyringError> {
            self.unwraps.fetch_add(1, Ordering::SeqCst);
            let aad = context.canonical_bytes();
            match wrapped.strip_prefix(aad.as_slice()) {
                Some(key) => Ok(SecretSlice::from(key.to_vec())),
                None => Err(KeyringError::InvalidCiphertext),
            }
        }

        async fn rewrap(&self, wrapped: &[u8], _: &EncryptionContext) -> Result<(Vec<u8>, String), KeyringError> {
            Ok((wrapped.to_vec(), "test".into()))
        }
    }

    #[tokio::test]
    async fn cached_opens_call_the_keyring_once_and_still_check_the_context() {
        let keyring = CountingKeyring::default();
        let cache = DataKeyCache::default();
        let ctx = EncryptionContext::new([("workspace", "ws_a"), ("purpose", "trigger-secret")]);
        let sealed = seal(&keyring, &ctx, b"whsec_secret").await.unwrap();
        for _ in 0..3 {
            assert_eq!(open_cached(&cache, &keyring, &ctx, &sealed).await.unwrap().expose_secret(), b"whsec_secret");
        }
        assert_eq!(keyring.unwraps.load(Ordering::SeqCst), 1);

        let other = EncryptionContext::new([("workspace", "ws_b"), ("purpose", "trigger-secret")]);
        assert_eq!(open_cached(&cache, &keyring, &other, &sealed).await.unwrap_err(), KeyringError::InvalidCiphertext);
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(open_cached(&cache, &keyring, &ctx, &tampered).await.unwrap_err(), KeyringError::InvalidCiphertext, "a cached key still checks the tag");
        assert_eq!(keyring.unwraps.load(Ordering::SeqCst), 2);
    }
}
