//! Access tokens (HS256 JWTs, 10 minutes, `kid` naming the signing key so keys can rotate) and opaque
//! refresh tokens (random, stored only as SHA-256). Signing keys come from the `Secrets` port:
//! `token-signing-key` signs; `token-signing-key-previous`, when set, still verifies during a rotation.

use std::time::{Duration, Instant};

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::signature;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use super::types::UserId;
use crate::ports::{Secrets, SecretsError};

pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(600);
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const ISSUER: &str = "webtrigger";
const AUDIENCE: &str = "webtrigger-api";
const KEYS_CACHED_FOR: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub sub: String,
    /// Session (refresh-token family) the token was issued for.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Clone)]
struct SigningKey {
    kid: String,
    secret: Vec<u8>,
}

impl SigningKey {
    fn from_secret(value: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes());
        let kid = digest.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
        Self { kid, secret: value.as_bytes().to_vec() }
    }
}

/// Signs and verifies access tokens; keys are read from `Secrets` once and refreshed every 5 minutes.
#[derive(Default)]
pub struct TokenKeys {
    cached: RwLock<Option<(Instant, Vec<SigningKey>)>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("token is invalid or expired")]
    Invalid,
    #[error(transparent)]
    Keys(#[from] SecretsError),
}

/// jsonwebtoken's own aws-lc provider links RSA, ECDSA and Ed25519 (key parsing, prime generation: ~280 KB
/// per bootstrap) through its algorithm table although tokens here are HS256 only. This provider knows
/// HS256 and refuses every other algorithm, so the header's `alg` can never select another primitive.
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: |alg, key| match alg {
        Algorithm::HS256 if key.family() == AlgorithmFamily::Hmac => Ok(Box::new(Hs256::keyed(key.as_bytes()))),
        Algorithm::HS256 => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    },
    verifier_factory: |alg, key| match alg {
        Algorithm::HS256 if key.family() == AlgorithmFamily::Hmac => Ok(Box::new(Hs256::keyed(key.try_get_as_bytes()?))),
        Algorithm::HS256 => Err(ErrorKind::InvalidKeyFormat.into()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    },
    key_utils: KeyUtils::new_unimplemented(),
};

fn install_hs256_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _already_installed = HS256_ONLY.install_default();
    });
}

struct Hs256(aws_lc_rs::hmac::Key);

impl Hs256 {
    fn keyed(secret: &[u8]) -> Self {
        Self(aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret))
    }
}

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(aws_lc_rs::hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        aws_lc_rs::hmac::verify(&self.0, message, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl TokenKeys {
    async fn keys(&self, secrets: &dyn Secrets) -> Result<Vec<SigningKey>, SecretsError> {
        if let Some((at, keys)) = self.cached.read().await.as_ref() {
            if at.elapsed() < KEYS_CACHED_FOR {
                return Ok(keys.clone());
            }
        }
        let mut keys = vec![SigningKey::from_secret(secrets.get("token-signing-key").await?.expose_secret())];
        match secrets.get("token-signing-key-previous").await {
            Ok(previous) => keys.push(SigningKey::from_secret(previous.expose_secret())),
            Err(SecretsError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        *self.cached.write().await = Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    pub async fn issue(&self, secrets: &dyn Secrets, user: &UserId, session: &str, now: i64) -> Result<String, TokenError> {
        install_hs256_provider();
        let key = self.keys(secrets).await?.into_iter().next().expect("a current key");
        let claims = AccessClaims {
            sub: user.to_string(),
            sid: session.to_owned(),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL.as_secs() as i64,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        let header = Header { kid: Some(key.kid), ..Header::new(Algorithm::HS256) };
        encode(&header, &claims, &EncodingKey::from_secret(&key.secret)).map_err(|_| TokenError::Invalid)
    }

    /// Verifies signature (HS256 only: `alg: none` and others are refused), issuer, audience and expiry.
    pub async fn verify(&self, secrets: &dyn Secrets, token: &str) -> Result<AccessClaims, TokenError> {
        install_hs256_provider();
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let keys = self.keys(secrets).await?;
        let key = keys.iter().find(|k| header.kid.as_deref() == Some(k.kid.as_str())).ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<AccessClaims>(token, &DecodingKey::from_secret(&key.secret), &validation).map(|d| d.claims).map_err(|_| TokenError::Invalid)
    }
}

/// SHA-256 hex of an opaque token (refresh tokens, API key secrets, invite tokens are stored this way).
pub fn token_hash(token: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh opaque token: `<prefix>` + 32 random bytes, base64url.
pub fn opaque_token(prefix: &str) -> String {
    use base64::Engine;
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::crypto::random_bytes::<32>()))
}

/// Constant-time equality for secrets and their hashes.
pub fn same(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use secrecy::SecretString;

    use super::*;

    struct OneKey;

    #[async_trait::async_trait]
    impl Secrets for OneKey {
        async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
            match name {
                "token-signing-key" => Ok(SecretString::from("unit-test-signing-key")),
                _ => Err(SecretsError::NotFound(name.into())),
            }
        }
    }

    fn claims(now: i64) -> AccessClaims {
        AccessClaims { sub: "usr_1".into(), sid: "ses_1".into(), iat: now, exp: now + 600, iss: ISSUER.into(), aud: AUDIENCE.into() }
    }

    #[tokio::test]
    async fn issued_tokens_verify_and_other_algorithms_with_the_same_key_do_not() {
        let keys = TokenKeys::default();
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let token = keys.issue(&OneKey, &UserId::parse("usr_01hzzzzzzzzzzzzzzzzzzzzzzz").unwrap(), "ses_1", now).await.unwrap();
        assert_eq!(keys.verify(&OneKey, &token).await.unwrap().sid, "ses_1");

        let kid = SigningKey::from_secret("unit-test-signing-key").kid;
        let secret = EncodingKey::from_secret(b"unit-test-signing-key");
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let header = Header { kid: Some(kid.clone()), ..Header::new(alg) };
            assert!(encode(&header, &claims(now), &secret).is_err(), "the provider signs only HS256");
        }
        let hs256 = encode(&Header { kid: Some(kid.clone()), ..Header::new(Algorithm::HS256) }, &claims(now), &secret).unwrap();
        let (_, rest) = hs256.split_once('.').unwrap();
        let relabelled = format!("{}.{rest}", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, format!(r#"{{"alg":"HS512","kid":"{kid}"}}"#)));
        assert_eq!(keys.verify(&OneKey, &relabelled).await, Err(TokenError::Invalid));

        let expired = encode(&Header { kid: Some(kid.clone()), ..Header::new(Algorithm::HS256) }, &claims(now - 3600), &secret).unwrap();
        assert_eq!(keys.verify(&OneKey, &expired).await, Err(TokenError::Invalid));
        let wrong_key = encode(&Header { kid: Some(kid), ..Header::new(Algorithm::HS256) }, &claims(now), &EncodingKey::from_secret(b"other")).unwrap();
        assert_eq!(keys.verify(&OneKey, &wrong_key).await, Err(TokenError::Invalid));
    }
}
