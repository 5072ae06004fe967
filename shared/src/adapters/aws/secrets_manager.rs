//! `SecretsManagerSecrets`: the `Secrets` port on Secrets Manager (`<prefix><name>`), cached for five
//! minutes per warm Lambda so a hot path never waits on it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use secrecy::SecretString;

use super::describe;
use crate::ports::secrets::check_secret_name;
use crate::ports::{Secrets, SecretsError};

const CACHE_FOR: Duration = Duration::from_secs(300);

pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
    cache: Mutex<HashMap<String, (Instant, SecretString)>>,
}

impl SecretsManagerSecrets {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self { client, prefix: prefix.into(), cache: Mutex::new(HashMap::new()) }
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretsError> {
        check_secret_name(name)?;
        if let Some((at, v)) = self.cache.lock().expect("secrets cache").get(name) {
            if at.elapsed() < CACHE_FOR {
                return Ok(v.clone());
            }
        }
        let out = self.client.get_secret_value().secret_id(format!("{}{name}", self.prefix)).send().await.map_err(|e| {
            match e.into_service_error() {
                e if e.is_resource_not_found_exception() => SecretsError::NotFound(name.to_owned()),
                e => SecretsError::Unavailable(describe(&e)),
            }
        })?;
        let value = SecretString::from(out.secret_string.ok_or_else(|| SecretsError::NotFound(name.to_owned()))?);
        self.cache.lock().expect("secrets cache").insert(name.to_owned(), (Instant::now(), value.clone()));
        Ok(value)
    }
}
