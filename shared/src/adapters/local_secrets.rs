//! `LocalSecrets`: the `Secrets` port for the local binary. A secret is read from the environment
//! (`WEBTRIGGER_SECRET_<NAME>`, `-` and `/` as `_`), else from `<dir>/<name>`; names listed as
//! generated are created (random, 0600) on first use so a fresh install needs no set-up.

use std::path::PathBuf;

use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use secrecy::SecretString;

use super::local_keyring::create_private;
use crate::crypto;
use crate::ports::secrets::check_secret_name;
use crate::ports::{Secrets, SecretsError};

pub struct LocalSecrets {
    dir: Option<PathBuf>,
    generated: Vec<String>,
}

impl LocalSecrets {
    /// Secrets from the environment only.
    pub fn from_env() -> Self {
        Self { dir: None, generated: Vec::new() }
    }

    /// Secrets from the environment, then files in `dir`.
    pub fn with_dir(dir: PathBuf) -> Self {
        Self { dir: Some(dir), generated: Vec::new() }
    }

    /// Names that are generated (32 random bytes, base64url) when absent.
    pub fn generating(mut self, names: &[&str]) -> Self {
        self.generated = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    fn env_name(name: &str) -> String {
        format!("WEBTRIGGER_SECRET_{}", name.to_ascii_uppercase().replace(['-', '/'], "_"))
    }
}

#[async_trait]
impl Secrets for LocalSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        check_secret_name(name)?;
        if let Ok(value) = std::env::var(Self::env_name(name)) {
            return Ok(SecretString::from(value));
        }
        let Some(dir) = &self.dir else { return Err(SecretsError::NotFound(name.to_owned())) };
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(value) => return Ok(SecretString::from(value.trim_end().to_owned())),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SecretsError::Unavailable(e.to_string())),
            Err(_) => {}
        }
        if !self.generated.iter().any(|g| g == name) {
            return Err(SecretsError::NotFound(name.to_owned()));
        }
        let value = URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| SecretsError::Unavailable(e.to_string()))?;
        }
        match create_private(&path) {
            Ok(mut f) => std::io::Write::write_all(&mut f, value.as_bytes()).map_err(|e| SecretsError::Unavailable(e.to_string()))?,
            // Another caller generated it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let existing = std::fs::read_to_string(&path).map_err(|e| SecretsError::Unavailable(e.to_string()))?;
                return Ok(SecretString::from(existing.trim_end().to_owned()));
            }
            Err(e) => return Err(SecretsError::Unavailable(e.to_string())),
        }
        Ok(SecretString::from(value))
    }
}
