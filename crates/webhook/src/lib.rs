//! Alert delivery at the edge: the alert log with its global sequence, and
//! signed webhook POSTs that survive slow, failing and restarting receivers.
//!
//! Start from [`AlertLog`] (append the engine's alerts to `out/alerts.ndjson`,
//! read them back with [`alerts_since`]) and [`Deliverer`] (one queue and
//! worker per [`WebhookTarget`]; submit never waits). Delivery is at least
//! once with the alert id as `Idempotency-Key`; an alert a receiver
//! acknowledged is recorded on disk and never sent to it again. How a
//! receiver verifies `X-Tidewatch-Signature` is in `docs/webhooks.md` and
//! [`sign::verify`].

pub mod config;
pub mod deliver;
pub mod log;
pub mod sign;
pub mod store;

pub use config::{load_targets, parse_targets, WebhookTarget};
pub use deliver::{Attempt, Deliverer, Delivery, Observer, TargetStats};
pub use log::{alerts_since, read_log, AlertLog, Appended};
pub use sign::{sign, signature_header, verify, VerifyError, SIGNATURE_HEADER};

/// What can go wrong outside the HTTP exchange itself.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{}", config_message(file, *line, message))]
    Config {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}{}: {message}", if *line > 0 { format!(":{line}") } else { String::new() })]
    Corrupt {
        path: String,
        line: usize,
        message: String,
    },
    #[error("delivery worker failed: {0}")]
    Worker(String),
}

fn config_message(file: &str, line: usize, message: &str) -> String {
    match (file.is_empty(), line) {
        (true, _) => message.to_owned(),
        (false, 0) => format!("{file}: {message}"),
        (false, l) => format!("{file}:{l}: {message}"),
    }
}
