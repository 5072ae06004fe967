//! Ports: the small traits domain code talks to. Adapters in `crate::adapters` implement them.

pub mod clock;
pub mod counting;
pub mod envelope;
pub mod keyring;
pub mod queue;
pub mod secrets;
pub mod table;

pub use clock::{Clock, FixedClock, SystemClock};
pub use keyring::{DataKey, EncryptionContext, Keyring, KeyringError};
pub use queue::{Delivery, OutgoingMessage, Queue, QueueError, QueueSpec, TransactAndSend};
pub use secrets::{Secrets, SecretsError};
pub use table::{Condition, Cursor, Direction, Index, IndexKey, Item, Key, Page, Query, SkRange, Table, TableError, TxWrite};
