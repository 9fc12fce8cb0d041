//! Request logs carry no personal data. In a test binary of its own: the
//! subscriber is the process's global one, so no other test's thread can
//! have cached tracing's "no interest" for these callsites first.

mod common;

use axum::http::Method;
use common::*;
use serde_json::json;

#[tokio::test]
async fn request_logs_carry_no_personal_data_or_uscc() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let w = buf.clone();
    let sub = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || w.clone())
        .finish();
    tracing::subscriber::set_global_default(sub).expect("the only subscriber");

    let f = fixture();
    let (_, b, _) = ids();
    call(
        &f.router,
        Method::GET,
        &format!("/v1/entities/{b}"),
        Some(VIEWER),
        None,
    )
    .await;
    call(
        &f.router,
        Method::GET,
        "/v1/distribution?industry=C13&region=330903",
        Some(VIEWER),
        None,
    )
    .await;
    call(
        &f.router,
        Method::POST,
        "/v1/draws",
        Some(PLANNER),
        Some(json!({"id": "p1", "field": "food", "legal_rep_key": "LR-9"})),
    )
    .await;
    let logs = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(logs.contains("/v1/entities/{uscc}"), "{logs}");
    for secret in [b.as_str(), "LR-9", VIEWER, PLANNER, "C13"] {
        assert!(!logs.contains(secret), "{secret} in logs: {logs}");
    }
}
