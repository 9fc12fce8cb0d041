//! The Kafka edge of tidewatch: configuration (one TOML file with
//! environment overrides), topic names, the engine loop that consumes the
//! three input topics and publishes scores and dead letters, the
//! producer tool that loads seed files into the topics, and reading a topic
//! whole (a draw's population from `scores`, its results from
//! `inspections`) and publishing a draw's `samples`.
//!
//! Everything between the bytes of a record and a score record is the
//! engine crate's; this crate only moves bytes and offsets.

pub mod bench;
pub mod config;
pub mod group;
mod lanes;
pub mod produce;
pub mod runner;
pub mod snapshot;
pub mod topics;

pub use config::Config;
pub use topics::Topics;
