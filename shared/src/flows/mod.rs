//! Bot flows on WhatsApp: versioned flow documents (types, store), the step engine, the runtime in
//! inbound processing, captured data and funnels, the simulator, and the `api-flows` routes.

pub mod data;
pub mod engine;
mod routes;
pub mod runtime;
pub mod simulator;
pub mod store;
pub mod types;

pub use routes::{api, routes};

#[cfg(test)]
mod tests;
