//! `Secrets` port: platform secrets by name (token signing keys, provider app secrets).
//! Secrets Manager in AWS; environment variables or files locally.

use async_trait::async_trait;
use secrecy::SecretString;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SecretsError {
    #[error("secret `{0}` is not configured")]
    NotFound(String),
    #[error("invalid secret name `{0}`")]
    InvalidName(String),
    #[error("secrets backend unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Secrets: Send + Sync {
    /// The current value of the named secret. Names are `[a-z0-9-_/]+`.
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError>;
}

pub(crate) fn check_secret_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.is_empty()
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_/".contains(&b));
    if ok { Ok(()) } else { Err(SecretsError::InvalidName(name.to_owned())) }
}
