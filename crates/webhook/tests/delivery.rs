//! Delivery against a real HTTP receiver on 127.0.0.1 that fails, hangs
//! past the timeout, refuses and recovers: every alert arrives, signatures
//! verify, no alert is sent again once acknowledged, the caller never
//! waits, and a restart from the on-disk state neither repeats nor loses.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::NaiveDate;
use tidewatch_alerts::{Alert, AlertKind, EntityRef, LoggedAlert};
use tidewatch_webhook::{read_log, verify, AlertLog, Deliverer, WebhookTarget, SIGNATURE_HEADER};

/// What the receiver does with request number `n` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Ok,
    Fail(u16),
    /// Never answers (the sender's timeout ends it).
    Hang,
    /// Answers 200 after a pause.
    Slow(u64),
}

type Script = Arc<dyn Fn(usize) -> Act + Send + Sync>;

#[derive(Default, Debug)]
struct Seen {
    requests: usize,
    /// Alert id → times processed (acknowledged with a fresh 2xx).
    processed: BTreeMap<String, u32>,
    /// Requests for an alert after the receiver had acknowledged it.
    after_ack: usize,
    bad_signature: usize,
    key_mismatch: usize,
}

#[derive(Clone)]
struct Receiver {
    secret: Vec<u8>,
    script: Arc<Mutex<Script>>,
    seen: Arc<Mutex<Seen>>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn handle(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = {
        let mut s = r.seen.lock().expect("lock");
        s.requests += 1;
        s.requests
    };
    let sig = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if verify(sig, &body, &r.secret, now(), 300).is_err() {
        r.seen.lock().expect("lock").bad_signature += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let key = headers
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body_id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    if body_id.as_deref() != Some(key.as_str()) {
        r.seen.lock().expect("lock").key_mismatch += 1;
        return StatusCode::BAD_REQUEST;
    }
    // An idempotent receiver: a key it has processed is answered 200 and
    // not processed again. The sender should never need this.
    {
        let mut s = r.seen.lock().expect("lock");
        if s.processed.contains_key(&key) {
            s.after_ack += 1;
            return StatusCode::OK;
        }
    }
    let act = (r.script.lock().expect("lock"))(n);
    match act {
        Act::Fail(code) => StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Act::Hang => {
            // Dropped when the sender gives up: never processed.
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::SERVICE_UNAVAILABLE
        }
        Act::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            *r.seen
                .lock()
                .expect("lock")
                .processed
                .entry(key)
                .or_default() += 1;
            StatusCode::OK
        }
        Act::Ok => {
            *r.seen
                .lock()
                .expect("lock")
                .processed
                .entry(key)
                .or_default() += 1;
            StatusCode::OK
        }
    }
}

/// Starts a receiver on 127.0.0.1:0; returns it and its URL.
async fn receiver(
    secret: &str,
    script: impl Fn(usize) -> Act + Send + Sync + 'static,
) -> (Receiver, String) {
    let r = Receiver {
        secret: secret.as_bytes().to_vec(),
        script: Arc::new(Mutex::new(Arc::new(script))),
        seen: Arc::new(Mutex::new(Seen::default())),
    };
    let app = Router::new()
        .route("/hook", post(handle))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (r, format!("http://{addr}/hook"))
}

fn target(name: &str, url: &str, secrets: &[&str]) -> WebhookTarget {
    WebhookTarget {
        timeout_ms: 200,
        max_attempts: 3,
        backoff_initial_ms: 10,
        backoff_max_ms: 80,
        retry_parked_ms: 100,
        ..WebhookTarget::new(name, url, secrets)
    }
}

fn alert(i: u64) -> Alert {
    let d = NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    Alert {
        id: format!("{:064x}", i * 7919 + 1),
        entity_seq: 1,
        kind: AlertKind::Proposed,
        cause: None,
        list: Some("serious".into()),
        list_name: Some("严重违法失信名单".into()),
        entity: EntityRef {
            uscc: "91330921X6KYML9C3L".into(),
            name: format!("测试企业{i}"),
            region: "330921".into(),
        },
        rule: "serious.heavy_penalty".into(),
        rule_version: "sha256:0123456789abcdef".into(),
        mode: Some(tidewatch_alerts::Mode::Proposal),
        triggers: vec![format!("cred-{i}")],
        cause_event: None,
        effective_on: d,
        expires_on: None,
        repair_from: None,
        field: None,
        authority: None,
        reason: "较重行政处罚".into(),
        as_of: d,
    }
}

fn write_log(path: &Path, n: u64) -> Vec<LoggedAlert> {
    let mut log = AlertLog::open(path).expect("log");
    let alerts: Vec<Alert> = (1..=n).map(alert).collect();
    log.append(&alerts).expect("append")
}

fn seen(r: &Receiver) -> std::sync::MutexGuard<'_, Seen> {
    r.seen.lock().expect("lock")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_arrives_once_through_failures_timeouts_and_recovery() {
    // Down at first (500s), then hanging past the timeout, then up with a
    // 503 every fifth request.
    let (r, url) = receiver("new-secret", |n| match n {
        1..=6 => Act::Fail(500),
        7..=9 => Act::Hang,
        n if n % 5 == 0 => Act::Fail(503),
        _ => Act::Ok,
    })
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let logged = write_log(&dir.path().join("alerts.ndjson"), 40);
    // Two secrets while rotating: the receiver knows only the new one.
    let d = Deliverer::start(
        &[target("hook", &url, &["old-secret", "new-secret"])],
        &dir.path().join("webhooks"),
    )
    .expect("start");
    let t = Instant::now();
    for a in &logged {
        d.submit_alert(a).expect("submit");
    }
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "submitting waited {:?}",
        t.elapsed()
    );
    assert!(d.drain(Duration::from_secs(30)).await, "{:?}", d.stats());
    let stats = d.stats().remove(0);
    d.shutdown().await;
    let s = seen(&r);
    assert_eq!(s.processed.len(), 40, "{s:?}");
    assert!(s.processed.values().all(|n| *n == 1));
    assert_eq!(s.after_ack, 0, "an acknowledged alert was sent again");
    assert_eq!(s.bad_signature, 0);
    assert_eq!(s.key_mismatch, 0);
    assert!(s.requests > 40, "the script's failures were exercised");
    assert_eq!(stats.delivered, 40);
    assert_eq!(stats.parked, 0);
    assert!(stats.failures >= 9, "{stats:?}");
    let acked = std::fs::read_to_string(dir.path().join("webhooks/hook/acked.log")).expect("acks");
    assert_eq!(acked.lines().count(), 40);
    let dead = std::fs::read_dir(dir.path().join("webhooks/hook/dead-letter")).expect("dir");
    assert_eq!(
        dead.count(),
        0,
        "every dead letter was delivered and removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_blocks_neither_the_caller_nor_another_receiver() {
    let (stuck, stuck_url) = receiver("s", |_| Act::Hang).await;
    let (good, good_url) = receiver("s", |_| Act::Ok).await;
    let dir = tempfile::tempdir().expect("tmp");
    let logged = write_log(&dir.path().join("alerts.ndjson"), 200);
    let d = Deliverer::start(
        &[
            target("stuck", &stuck_url, &["s"]),
            target("good", &good_url, &["s"]),
        ],
        &dir.path().join("webhooks"),
    )
    .expect("start");
    let t = Instant::now();
    for a in &logged {
        d.submit_alert(a).expect("submit");
    }
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen(&good).processed.len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen(&good).processed.len(), 200);
    // The stuck receiver spent one alert's budget, then everything was
    // parked without waiting on it; only probes of the oldest go out.
    d.flush().await;
    let stats = d.stats();
    assert_eq!(stats[0].parked, 200, "{:?}", stats[0]);
    assert!(stats[0].down);
    let probes = seen(&stuck).requests;
    assert!(probes < 60, "{probes} requests to a hanging receiver");
    assert!(seen(&stuck).processed.is_empty());
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_way_delivers_no_duplicate_and_loses_nothing() {
    let (r, url) = receiver("k", |_| Act::Slow(30)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("alerts.ndjson");
    write_log(&log, 60);
    let state = dir.path().join("webhooks");

    let first = Deliverer::start(&[target("hook", &url, &["k"])], &state).expect("start");
    for a in &read_log(&log).expect("log") {
        first.submit_alert(a).expect("submit");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen(&r).processed.len() < 15 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.shutdown().await;
    let before = seen(&r).processed.len();
    assert!((15..60).contains(&before), "stopped mid-way: {before}");

    // A new process: only the files are left. Submit the whole log again.
    let second = Deliverer::start(&[target("hook", &url, &["k"])], &state).expect("restart");
    for a in &read_log(&log).expect("log") {
        second.submit_alert(a).expect("submit");
    }
    assert!(second.drain(Duration::from_secs(20)).await);
    let stats = second.stats().remove(0);
    second.shutdown().await;
    let s = seen(&r);
    assert_eq!(s.processed.len(), 60, "nothing lost");
    assert!(s.processed.values().all(|n| *n == 1), "nothing twice");
    assert_eq!(s.after_ack, 0, "nothing acknowledged was sent again");
    assert_eq!(stats.already_acked as usize, before);
    assert_eq!(stats.delivered as usize, 60 - before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_alerts_survive_a_restart_and_are_retried_first() {
    let (r, url) = receiver("k", |_| Act::Fail(502)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("alerts.ndjson");
    write_log(&log, 5);
    let state = dir.path().join("webhooks");
    let first = Deliverer::start(&[target("hook", &url, &["k"])], &state).expect("start");
    for a in &read_log(&log).expect("log") {
        first.submit_alert(a).expect("submit");
    }
    first.flush().await;
    assert_eq!(first.stats()[0].parked, 5);
    first.shutdown().await;
    let dead = std::fs::read_dir(state.join("hook/dead-letter")).expect("dir");
    assert_eq!(dead.count(), 5, "parked on disk");

    *r.script.lock().expect("lock") = Arc::new(|_| Act::Ok);
    let second = Deliverer::start(&[target("hook", &url, &["k"])], &state).expect("restart");
    // Nothing submitted: the dead letters alone are retried.
    assert!(
        second.drain(Duration::from_secs(10)).await,
        "{:?}",
        second.stats()
    );
    second.shutdown().await;
    let s = seen(&r);
    assert_eq!(s.processed.len(), 5);
    assert_eq!(s.after_ack, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_is_parked_at_once_and_the_receiver_stays_up() {
    // The first alert is refused (400); the rest go through.
    let (r, url) = receiver("k", |n| if n == 1 { Act::Fail(400) } else { Act::Ok }).await;
    let dir = tempfile::tempdir().expect("tmp");
    let logged = write_log(&dir.path().join("alerts.ndjson"), 4);
    let d =
        Deliverer::start(&[target("hook", &url, &["k"])], &dir.path().join("w")).expect("start");
    for a in &logged {
        d.submit_alert(a).expect("submit");
    }
    d.flush().await;
    let st = d.stats().remove(0);
    assert_eq!(st.attempts, 4, "no retries of a refused request: {st:?}");
    assert!(!st.down);
    assert_eq!(seen(&r).processed.len(), 3);
    // Parked, it is retried later and goes through.
    assert!(d.drain(Duration::from_secs(10)).await);
    d.shutdown().await;
    assert_eq!(seen(&r).processed.len(), 4);
}
