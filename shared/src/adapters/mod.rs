//! Adapters: the technology behind each port, named `<Tech><Port>`.

pub mod aws;
#[cfg(feature = "embedded")]
pub mod local_keyring;
#[cfg(feature = "embedded")]
pub mod local_secrets;
#[cfg(feature = "embedded")]
pub mod sqlite;

pub use aws::{DynamoTable, KmsKeyring, SecretsManagerSecrets, SqsQueue};
#[cfg(feature = "embedded")]
pub use local_keyring::LocalKeyring;
#[cfg(feature = "embedded")]
pub use local_secrets::LocalSecrets;
#[cfg(feature = "embedded")]
pub use sqlite::{SqliteDb, SqliteQueue, SqliteTable};
