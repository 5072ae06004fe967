//! AES-256-GCM with random 96-bit nonces (aws-lc-rs), the one symmetric primitive the platform uses.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CryptoError {
    #[error("key must be 32 bytes")]
    BadKey,
    #[error("decryption failed")]
    Decrypt,
}

/// Fills a fresh buffer of `N` random bytes from the OS generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).expect("OS random generator");
    out
}

fn key(bytes: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, bytes).map(LessSafeKey::new).map_err(|_| CryptoError::BadKey)
}

/// Returns `nonce || ciphertext || tag`.
pub fn seal(key_bytes: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = key(key_bytes)?;
    let nonce = random_bytes::<NONCE_LEN>();
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::BadKey)?;
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Opens what [`seal`] produced; any tampering or a different `aad` fails.
pub fn open(key_bytes: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = key(key_bytes)?;
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Decrypt)?;
    let mut buf = ct.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).map_err(|_| CryptoError::Decrypt)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = random_bytes::<32>();
        let sealed = seal(&k, b"ctx", b"hello").unwrap();
        assert_eq!(open(&k, b"ctx", &sealed).unwrap(), b"hello");
        assert_eq!(open(&k, b"other", &sealed), Err(CryptoError::Decrypt));
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(open(&k, b"ctx", &bad), Err(CryptoError::Decrypt));
        assert_eq!(open(&k, b"ctx", &sealed[..10]), Err(CryptoError::Decrypt));
        assert_eq!(seal(&k[..16], b"", b"x"), Err(CryptoError::BadKey));
    }
}
