//! A browser's side of Web Push for tests: a P-256 key pair and auth secret, the subscription JSON, and
//! RFC 8291 decryption of what a push service received (the independent check of our encryption).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, ECDH_P256};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyUncompressedBin};
use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

pub struct Browser {
    key: PrivateKey,
    public: Vec<u8>,
    auth: [u8; 16],
}

impl Browser {
    pub fn new() -> Self {
        let key = PrivateKey::generate(&ECDH_P256).unwrap();
        let bin: EcPublicKeyUncompressedBin = key.compute_public_key().unwrap().as_be_bytes().unwrap();
        Self { public: bin.as_ref().to_vec(), key, auth: rand_auth() }
    }

    /// RFC 8291 receiver side: what a browser does with the body.
    pub fn decrypt(&self, body: &[u8]) -> Vec<u8> {
        let (salt, rest) = body.split_at(16);
        let rs = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert_eq!(rs, 4096);
        assert_eq!(rest[4], 65, "keyid is the 65-byte sender key");
        let as_public = &rest[5..70];
        let ciphertext = &rest[70..];
        let ecdh: Vec<u8> = agreement::agree(&self.key, UnparsedPublicKey::new(&ECDH_P256, as_public), (), |s| Ok(s.to_vec())).unwrap();
        let mac = |k: &[u8], parts: &[&[u8]]| {
            let key = hmac::Key::new(hmac::HMAC_SHA256, k);
            let mut c = hmac::Context::with_key(&key);
            parts.iter().for_each(|p| c.update(p));
            c.sign().as_ref().to_vec()
        };
        let prk_key = mac(&self.auth, &[&ecdh]);
        let ikm = mac(&prk_key, &[b"WebPush: info\0", &self.public, as_public, &[1]]);
        let prk = mac(salt, &[&ikm]);
        let cek = mac(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
        let nonce = mac(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek[..16]).unwrap());
        let mut buf = ciphertext.to_vec();
        let plain = key.open_in_place(Nonce::try_assume_unique_for_key(&nonce[..12]).unwrap(), Aad::empty(), &mut buf).expect("decrypts").to_vec();
        assert_eq!(plain.last(), Some(&2), "single final record ends with delimiter 2");
        plain[..plain.len() - 1].to_vec()
    }

    pub fn subscription(&self, endpoint: &str) -> Value {
        json!({"endpoint": endpoint, "keys": {"p256dh": URL_SAFE_NO_PAD.encode(&self.public), "auth": URL_SAFE_NO_PAD.encode(self.auth)}})
    }
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

fn rand_auth() -> [u8; 16] {
    let mut a = [0u8; 16];
    aws_lc_rs::rand::fill(&mut a).unwrap();
    a
}

