//! `KmsKeyring`: the `Keyring` port on KMS (GenerateDataKey / Decrypt / ReEncrypt with an encryption context).

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_kms::Client;
use secrecy::SecretSlice;

use super::describe;
use crate::ports::{DataKey, EncryptionContext, Keyring, KeyringError};

pub struct KmsKeyring {
    client: Client,
    key_id: String,
}

impl KmsKeyring {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }
}

fn classify<E: std::error::Error + aws_sdk_kms::error::ProvideErrorMetadata>(e: E) -> KeyringError {
    match e.code() {
        Some("InvalidCiphertextException" | "IncorrectKeyException") => KeyringError::InvalidCiphertext,
        _ => KeyringError::Unavailable(describe(&e)),
    }
}

#[async_trait]
impl Keyring for KmsKeyring {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyringError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context.pairs().clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify(e.into_service_error()))?;
        let plaintext = out.plaintext.ok_or_else(|| KeyringError::Unavailable("no plaintext data key".into()))?.into_inner();
        let wrapped = out.ciphertext_blob.ok_or_else(|| KeyringError::Unavailable("no wrapped data key".into()))?.into_inner();
        Ok(DataKey { plaintext: SecretSlice::from(plaintext), wrapped, master_key_id: out.key_id.unwrap_or_else(|| self.key_id.clone()) })
    }

    async fn unwrap_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<SecretSlice<u8>, KeyringError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(context.pairs().clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| classify(e.into_service_error()))?;
        out.plaintext.map(|p| SecretSlice::from(p.into_inner())).ok_or(KeyringError::InvalidCiphertext)
    }

    async fn rewrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<(Vec<u8>, String), KeyringError> {
        let ctx: std::collections::HashMap<String, String> = context.pairs().clone().into_iter().collect();
        let out = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped))
            .source_key_id(&self.key_id)
            .set_source_encryption_context(Some(ctx.clone()))
            .destination_key_id(&self.key_id)
            .set_destination_encryption_context(Some(ctx))
            .send()
            .await
            .map_err(|e| classify(e.into_service_error()))?;
        let blob = out.ciphertext_blob.ok_or(KeyringError::InvalidCiphertext)?.into_inner();
        Ok((blob, out.key_id.unwrap_or_else(|| self.key_id.clone())))
    }
}
