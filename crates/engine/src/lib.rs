//! The engine between the sources and the sinks: one ingest step for files
//! and Kafka, population scoring, score records with content-derived ids,
//! and the streaming engine's micro-batches and checkpoints. Sources and
//! sinks (files, Kafka, HTTP) live outside; this crate only touches the
//! local filesystem for the fixed output files and checkpoints.

pub mod checkpoint;
pub mod lists;
pub mod output;
pub mod pipeline;
pub mod records;
pub mod scores;
pub mod stream;
