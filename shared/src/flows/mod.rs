//! Bot flows on WhatsApp: versioned flow documents (types, check, store), the step engine (engine,
//! eval), the runtime in inbound processing with the bot switch (runtime, control), captured data and
//! funnels, the simulator, and the `api-flows` routes.

pub mod check;
pub mod control;
pub mod data;
pub mod engine;
pub mod eval;
mod routes;
pub mod runtime;
pub mod simulator;
pub mod store;
pub mod types;

pub use routes::{api, routes};

#[cfg(test)]
mod tests;
