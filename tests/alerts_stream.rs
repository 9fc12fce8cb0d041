//! Lists and alerts on a real Kafka-protocol broker: the engine evaluates
//! the list rules as it consumes, keeps the lists in its checkpoints,
//! publishes alerts to the `alerts` topic, and `serve` delivers them to a
//! webhook receiver exactly once per idempotency key across a crash.

#[path = "support/http.rs"]
mod http;
#[path = "support/kafka.rs"]
mod kafka;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka::{brokers, ok, produce, read_topic, run_kafka, seeds, tidewatch, unique_prefix};
use serde_json::Value;

/// The alert ids of a log, in log order.
fn log_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("alert log")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect()
}

/// `tidewatch run` on the seed files into `out`.
fn run_files(out: &Path) {
    ok(
        tidewatch()
            .args(["run", "--seeds"])
            .arg(seeds())
            .arg("--out")
            .arg(out)
            .arg("--pipelines")
            .arg(kafka::root().join("pipelines"))
            .output()
            .expect("runs"),
        "tidewatch run",
    );
}

/// The `alerts` topic by alert id: (key, payload) of each record, checking
/// that every repeat of an id carries the same payload.
fn topic_alerts(prefix: &str) -> (BTreeMap<String, (String, String)>, usize) {
    let recs = read_topic(&format!("{prefix}alerts"));
    let mut by_id: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in &recs {
        let v: Value = serde_json::from_str(&r.value).expect("alert JSON");
        let id = v["id"].as_str().expect("id").to_owned();
        let key = r.key.clone().expect("alerts are keyed");
        assert_eq!(
            key,
            v["entity"]["uscc"].as_str().expect("uscc"),
            "key is the USCC"
        );
        if let Some(prev) = by_id.insert(id.clone(), (key, r.value.clone())) {
            assert_eq!(prev.1, r.value, "alert {id} published with two payloads");
        }
    }
    (by_id, recs.len())
}

#[test]
fn run_on_kafka_writes_the_embedded_runs_alerts_and_publishes_each_once() {
    let prefix = unique_prefix("alerts-run");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let files = tmp.path().join("files");
    run_files(&files);
    let state = tmp.path().join("state");
    let out = tmp.path().join("out");
    let text = run_kafka(&prefix, &state, &out);
    assert!(text.contains("lists and alerts"), "{text}");
    // The one-shot job on Kafka judges the lists once the backlog is read,
    // as the batch does: the very same log, byte for byte.
    let want = std::fs::read(files.join("alerts.ndjson")).expect("file-mode log");
    let got = std::fs::read(out.join("alerts.ndjson")).expect("kafka-mode log");
    assert!(
        want == got,
        "alerts.ndjson differs between file and Kafka mode ({} vs {} bytes)",
        want.len(),
        got.len()
    );
    assert_eq!(
        std::fs::read(state.join("alerts.ndjson")).expect("engine's log"),
        got,
        "out/ holds the engine's alert log"
    );
    let ids = log_ids(&out.join("alerts.ndjson"));
    assert!(
        ids.len() > 1000,
        "the seeds raise many alerts: {}",
        ids.len()
    );
    let (topic, records) = topic_alerts(&prefix);
    assert_eq!(
        topic.keys().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        "the alerts topic carries exactly the logged alerts"
    );
    assert_eq!(records, ids.len(), "each published once");

    // The lists are in the checkpoint: a second run with nothing new to
    // read announces nothing and publishes nothing.
    let again = run_kafka(&prefix, &state, &tmp.path().join("out2"));
    assert!(again.contains(" 0 new alert(s)"), "{again}");
    assert_eq!(log_ids(&state.join("alerts.ndjson")), ids);
    let (_, records) = topic_alerts(&prefix);
    assert_eq!(records, ids.len(), "nothing published again");
    // `tidewatch lists` reads the Kafka run's out/ as it reads a file run's.
    let lists = ok(
        tidewatch()
            .args(["lists", "--list", "serious", "--out"])
            .arg(&out)
            .output()
            .expect("runs"),
        "tidewatch lists",
    );
    let files_lists = ok(
        tidewatch()
            .args(["lists", "--list", "serious", "--out"])
            .arg(&files)
            .output()
            .expect("runs"),
        "tidewatch lists",
    );
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&lists), body(&files_lists));
}

/// What the receiver saw per idempotency key: 2xx answers given, and
/// whether every signature verified.
#[derive(Debug, Default)]
struct Seen {
    acked: BTreeMap<String, u32>,
    requests: u64,
    refused: u64,
    bad_signatures: Vec<String>,
}

/// An HTTP receiver that answers 503 to every 7th request (the engine must
/// retry) and 200 otherwise; runs until the test ends.
fn receiver(secret: &'static str) -> (String, Arc<Mutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(clone) = stream.try_clone() else {
                continue;
            };
            let mut r = BufReader::new(clone);
            let mut headers = BTreeMap::new();
            // A request torn by the engine's kill is not a request.
            let complete = loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break false;
                }
                if line == "\r\n" {
                    break true;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            };
            if !complete {
                continue;
            }
            let n: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; n];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let sig = headers
                .get("x-tidewatch-signature")
                .cloned()
                .unwrap_or_default();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let good = tidewatch_webhook::verify(&sig, &body, secret.as_bytes(), now, 300).is_ok();
            let key = headers.get("idempotency-key").cloned().unwrap_or_default();
            let mut st = s.lock().expect("lock");
            st.requests += 1;
            if !good {
                st.bad_signatures.push(format!(
                    "key {key:?}, signature {sig:?}, {} body bytes of {n}",
                    body.len()
                ));
            }
            let answer: &[u8] = if st.requests % 7 == 0 {
                st.refused += 1;
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                *st.acked.entry(key).or_default() += 1;
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            drop(st);
            let _ = stream.write_all(answer);
        }
    });
    (url, seen)
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_delivers_every_alert_once_across_a_crash_and_serves_them_over_http() {
    let prefix = unique_prefix("alerts-serve");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let files = tmp.path().join("files");
    run_files(&files);
    let want: BTreeSet<String> = log_ids(&files.join("alerts.ndjson")).into_iter().collect();
    let (url, seen) = receiver("hook-secret");
    let port = http::free_port();
    let token = "viewer-token-for-the-alerts-test";
    let state = tmp.path().join("state");
    let audit = tmp.path().join("audit.jsonl");
    let cfg = tmp.path().join("tidewatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[kafka]\nbrokers = \"{}\"\ntopic_prefix = \"{prefix}\"\n\
             [engine]\ncheckpoint_dir = \"{}\"\nas_of = \"2026-09-30\"\ncheckpoint_interval_ms = 100\nbatch_max = 500\npipelines = \"{}\"\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\naudit_log = \"{}\"\n\
             [[server.tokens]]\nrole = \"viewer\"\ntoken = \"{token}\"\n\
             [[webhooks]]\nname = \"punishment\"\nurl = \"{url}\"\nsecrets = [\"hook-secret\"]\n\
             timeout_ms = 2000\nmax_attempts = 8\nbackoff_initial_ms = 5\nbackoff_max_ms = 50\nretry_parked_ms = 200\n",
            brokers(),
            state.display(),
            kafka::root().join("pipelines").display(),
            audit.display(),
        ),
    )
    .expect("config");
    let serve = || {
        tidewatch()
            .args(["serve", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts")
    };

    // First process: killed (no chance to flush or checkpoint) while the
    // receiver is part-way through the alerts.
    let mut first = serve();
    wait_for("the first deliveries", Duration::from_secs(90), || {
        seen.lock().expect("lock").acked.len() >= 200
    });
    first.kill().expect("kill");
    let _ = first.wait();
    let before = seen.lock().expect("lock").acked.len();
    assert!(
        before < want.len(),
        "the kill came after every alert was delivered ({before}); it must land mid-delivery"
    );

    // Second process: restores, and delivers the rest.
    let second = serve();
    wait_for("every alert delivered", Duration::from_secs(120), || {
        let s = seen.lock().expect("lock");
        s.acked.len() >= want.len()
    });
    let log: Vec<String> = log_ids(&state.join("alerts.ndjson"));
    let logged: BTreeSet<String> = log.iter().cloned().collect();
    assert_eq!(logged.len(), log.len(), "an alert id logged twice");
    assert_eq!(logged, want, "serve's alerts are the batch run's");
    {
        let s = seen.lock().expect("lock");
        assert!(
            s.bad_signatures.is_empty(),
            "signatures that do not verify: {:?}",
            s.bad_signatures
        );
        assert!(s.refused > 0, "the receiver refused some requests");
        let got: BTreeSet<String> = s.acked.keys().cloned().collect();
        assert_eq!(got, want, "every alert reached the receiver");
        // At most the one request in flight when the process was killed
        // can be answered but not yet recorded as acknowledged.
        let twice: Vec<_> = s.acked.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.len() <= 1,
            "acknowledged alerts sent again: {twice:?}"
        );
    }

    // Delivery shows in the metrics (the second process's own counts).
    let (code, metrics) = http::get(port, "/metrics", Some(token));
    assert_eq!(code, 200);
    let sum = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name) && l.contains("target=\"punishment\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(
        sum("tidewatch_alerts_delivered_total{") > 0.0,
        "delivered counter: {metrics}"
    );
    assert!(sum("tidewatch_alert_delivery_failures_total{") > 0.0);
    assert!(sum("tidewatch_alert_delivery_retries_total{") > 0.0);

    // Catch-up over HTTP from a sequence number.
    let n = log.len() as u64;
    let (code, body) = http::get(port, &format!("/v1/alerts?after={}", n - 3), Some(token));
    assert_eq!(code, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("JSON");
    let seqs: Vec<u64> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, [n - 2, n - 1, n]);
    assert_eq!(page["last_seq"], n);
    assert_eq!(
        page["items"][2]["alert"]["id"].as_str(),
        log.last().map(String::as_str)
    );
    // Lists and memberships as the batch run's lists have them.
    let state_file: Value = serde_json::from_str(
        &std::fs::read_to_string(files.join("lists-state.json")).expect("state"),
    )
    .expect("JSON");
    let serious: BTreeSet<String> = state_file["entities"]
        .as_object()
        .expect("entities")
        .iter()
        .filter(|(_, e)| {
            e["entries"].as_array().is_some_and(|x| {
                x.iter()
                    .any(|x| x["list"] == "serious" && x["status"] == "listed")
            })
        })
        .map(|(u, _)| u.clone())
        .collect();
    let (code, body) = http::get(port, "/v1/lists/serious?limit=100", Some(token));
    assert_eq!(code, 200, "{body}");
    let page: Value = serde_json::from_str(&body).expect("JSON");
    let listed: BTreeSet<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["uscc"].as_str().expect("uscc").to_owned())
        .collect();
    assert_eq!(listed, serious);
    let one = serious.iter().next().expect("someone on the serious list");
    let (_, body) = http::get(port, &format!("/v1/entities/{one}"), Some(token));
    let e: Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        e["lists"]
            .as_array()
            .is_some_and(|l| l.iter().any(|m| m["list"] == "serious")),
        "{body}"
    );

    // Each list change once in the audit log, whose chain verifies.
    let changes = std::fs::read_to_string(files.join("alerts.ndjson"))
        .expect("log")
        .lines()
        .filter(|l| !l.contains("\"kind\":\"warning\""))
        .count();
    let entries: Vec<Value> = std::fs::read_to_string(&audit)
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let audited: Vec<&str> = entries
        .iter()
        .filter(|e| e["actor"] == "engine")
        .map(|e| e["detail"]["alert_id"].as_str().expect("alert id"))
        .collect();
    assert_eq!(
        audited.iter().collect::<BTreeSet<_>>().len(),
        audited.len(),
        "a list change audited twice"
    );
    assert_eq!(audited.len(), changes);
    ok(
        tidewatch()
            .args(["audit", "verify"])
            .arg(&audit)
            .output()
            .expect("runs"),
        "tidewatch audit verify",
    );
    // The alerts topic carries each logged alert (a restart may repeat one,
    // with the same payload).
    let (topic, _) = topic_alerts(&prefix);
    assert_eq!(topic.keys().cloned().collect::<BTreeSet<_>>(), logged);

    kafka::stop_cleanly(second);
}

/// The seeds without the record dated after 2026-09-30 (rejected at that
/// as-of date, accepted at a later one: the two sides must see the same
/// events).
fn seeds_without_the_future_record(dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    for f in std::fs::read_dir(seeds()).expect("seeds") {
        let f = f.expect("entry").path();
        let name = f.file_name().expect("name");
        let text = std::fs::read_to_string(&f).expect("read");
        let kept: String = text
            .lines()
            .filter(|l| !l.contains("\"bad-future-date\""))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join(name), kept).expect("write");
    }
}

#[test]
fn the_engine_moving_its_as_of_date_raises_what_a_later_batch_run_raises() {
    use tidewatch_engine::lists::Lists;
    use tidewatch_engine::stream::Engine;
    use tidewatch_ingest::{ndjson, SourcePos};
    use tidewatch_model::Family;

    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("seeds");
    seeds_without_the_future_record(&dir);
    let later = "2027-03-31";
    // Batch: a run at the seeds' date, then one at a later date in the same
    // out dir (the lists continue, terms run out, scores are compared with
    // the previous run's).
    let out = tmp.path().join("out");
    for as_of in [None, Some(later)] {
        let mut c = tidewatch();
        c.args(["run", "--seeds"]).arg(&dir).arg("--out").arg(&out);
        c.arg("--pipelines").arg(kafka::root().join("pipelines"));
        if let Some(d) = as_of {
            c.args(["--as-of", d]);
        }
        ok(c.output().expect("runs"), "tidewatch run");
    }
    let batch: Vec<Value> = std::fs::read_to_string(out.join("alerts.ndjson"))
        .expect("log")
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("JSON");
            v.as_object_mut().expect("object").remove("seq");
            v
        })
        .collect();

    // Stream: one engine, every record offered, then the calendar moves.
    let root = kafka::root().join("pipelines");
    let policy = tidewatch_scoring::Policy::load(&root.join("policy.toml")).expect("policy");
    let rules = tidewatch_alerts::Rules::load(&root.join("lists.toml")).expect("rules");
    let first = chrono::NaiveDate::from_ymd_opt(2026, 9, 30).expect("date");
    let mut e = Engine::new(policy, first);
    e.set_lists(Lists::new(rules));
    for f in [
        Family::CreditRecords,
        Family::Inspections,
        Family::Complaints,
    ] {
        let path = dir.join(format!("{}.ndjson", f.as_str()));
        ndjson::for_each_line(&path, |line, b| {
            let pos = SourcePos::File {
                file: path.display().to_string(),
                line,
            };
            e.offer(f, b, pos);
        })
        .expect("seed file");
    }
    let mut stream = e.flush().expect("flush").alerts;
    let first_count = stream.len();
    e.set_as_of(later.parse().expect("date"));
    stream.extend(e.flush().expect("flush").alerts);
    let stream: Vec<Value> = stream
        .iter()
        .map(|a| serde_json::to_value(a).expect("JSON"))
        .collect();
    assert!(
        stream.len() > first_count,
        "the later date raises alerts of its own"
    );
    assert!(
        stream
            .iter()
            .skip(first_count)
            .any(|a| a["cause"] == "expired"),
        "terms run out by the later date"
    );
    assert_eq!(stream.len(), batch.len(), "alert counts");
    for (i, (s, b)) in stream.iter().zip(&batch).enumerate() {
        assert_eq!(s, b, "alert {} differs", i + 1);
    }
}
