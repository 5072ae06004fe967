//! Adapters: the technology behind each port, named `<Tech><Port>`.

pub mod aws;
pub mod local_keyring;
pub mod local_secrets;
pub mod sqlite;

pub use aws::{DynamoTable, KmsKeyring, SecretsManagerSecrets, SqsQueue};
pub use local_keyring::LocalKeyring;
pub use local_secrets::LocalSecrets;
pub use sqlite::{SqliteDb, SqliteQueue, SqliteTable};
