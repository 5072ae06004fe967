//! WhatsApp broadcasts: a channel + template + variable mapping + audience + send time. Starting one
//! fans the audience out through the campaigns queue a page at a time (deterministic message ids, a page
//! marker written with the counters in one transaction), each recipient becoming an ordinary WhatsApp
//! message that the send worker delivers within the channel's throughput and rate-limit pauses; message
//! status changes move the broadcast's counters in the same transaction.

pub mod fanout;
mod routes;
pub mod store;
pub mod types;
pub mod worker;

pub use routes::{api, routes};
