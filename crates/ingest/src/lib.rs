//! Turning input records into validated events, and keeping the ones that
//! fail.
//!
//! [`decode::decode_and_validate`] is the single gate every record passes,
//! from a file or from Kafka; [`dead_letter::DeadLetter`] is what a rejected
//! record becomes. [`ndjson`] reads the embedded default's files.

pub mod dead_letter;
pub mod decode;
mod fast;
pub mod ndjson;

pub use dead_letter::{DeadLetter, FileLine, Locate, Record, SourcePos};
pub use decode::{decode, decode_and_validate, decode_with_serde};
