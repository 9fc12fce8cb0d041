//! Blacklists and alerts end to end: `tidewatch run` writes the alert log
//! for the seeds, a second run announces nothing twice, a later as-of date
//! continues the lifecycle, `tidewatch lists` says who is on which list and
//! why, and `tidewatch alerts deliver` POSTs the log to a receiver once.

#[path = "../crates/alerts/tests/common/schema.rs"]
mod schema;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tidewatch(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidewatch"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs")
}

fn run(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--seeds"];
    let seeds = repo().join("seeds");
    let pipelines = repo().join("pipelines");
    let (s, p) = (
        seeds.to_str().expect("path"),
        pipelines.to_str().expect("path"),
    );
    args.push(s);
    args.extend(["--pipelines", p]);
    args.extend(extra);
    tidewatch(&args, out)
}

fn ok(o: Output) -> String {
    let stdout = String::from_utf8(o.stdout).expect("utf-8");
    assert!(
        o.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn log(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("alerts.ndjson"))
        .expect("alerts.ndjson written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn schema() -> Value {
    let text = std::fs::read_to_string(repo().join("docs/alert.schema.json")).expect("schema");
    serde_json::from_str(&text).expect("schema is JSON")
}

#[test]
fn the_run_writes_valid_alerts_for_the_seeds_and_a_second_run_repeats_none() {
    let out = tempfile::tempdir().expect("tmp");
    let stdout = ok(run(out.path(), &[]));
    assert!(stdout.contains("lists and alerts"), "{stdout}");
    for l in ["serious", "quality", "abnormal", "(no list)"] {
        assert!(stdout.contains(&format!("    {l}")), "{stdout}");
    }
    let alerts = log(out.path());
    assert!(alerts.len() > 100, "{}", alerts.len());
    let schema = schema();
    let mut ids = BTreeSet::new();
    let mut per_entity: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (i, a) in alerts.iter().enumerate() {
        let problems = schema::validate(&schema, a);
        assert!(problems.is_empty(), "{a}\n{problems:#?}");
        assert_eq!(a["seq"].as_u64(), Some(i as u64 + 1), "the log's sequence");
        assert!(ids.insert(a["id"].as_str().expect("id").to_owned()), "{a}");
        per_entity
            .entry(a["entity"]["uscc"].as_str().expect("uscc").to_owned())
            .or_default()
            .push(a["entity_seq"].as_u64().expect("entity_seq"));
    }
    for (u, seqs) in per_entity {
        let want: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, want, "entity {u}: its own sequence, in log order");
    }
    // Every kind of list step the seeds hold.
    let kinds: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["list"].as_str().unwrap_or("-").to_owned(),
                a["kind"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for want in [
        ("serious", "proposed"),
        ("serious", "listed"),
        ("serious", "removed"),
        ("quality", "proposed"),
        ("quality", "listed"),
        ("quality", "warning"),
        ("abnormal", "listed"),
        ("abnormal", "removed"),
        ("abnormal", "withdrawn"),
        ("-", "warning"),
    ] {
        assert!(
            kinds.contains(&(want.0.to_owned(), want.1.to_owned())),
            "no {want:?}"
        );
    }
    // Every serious-list decision in the seeds is a listing.
    let decisions = std::fs::read_to_string(repo().join("seeds/credit-records.ndjson"))
        .expect("seeds")
        .lines()
        .filter(|l| l.contains(r#""kind":"serious_listed""#))
        .count();
    let listed = alerts
        .iter()
        .filter(|a| a["list"] == "serious" && a["kind"] == "listed")
        .count();
    assert_eq!(listed, decisions);

    let before = std::fs::read(out.path().join("alerts.ndjson")).expect("log");
    let again = ok(run(out.path(), &[]));
    assert!(again.contains("0 new alert(s)"), "{again}");
    let after = std::fs::read(out.path().join("alerts.ndjson")).expect("log");
    assert_eq!(before, after, "nothing announced twice");
}

#[test]
fn a_later_as_of_continues_the_lifecycle_and_time_does_not_run_back() {
    let out = tempfile::tempdir().expect("tmp");
    ok(run(out.path(), &[]));
    let first = log(out.path()).len();
    let later = ok(run(out.path(), &["--as-of", "2029-12-31"]));
    let alerts = log(out.path());
    assert!(alerts.len() > first, "{later}");
    let new = &alerts[first..];
    assert_eq!(new[0]["seq"].as_u64(), Some(first as u64 + 1));
    // Serious listings of 2024-2026 ran their three years out.
    assert!(
        new.iter()
            .any(|a| a["list"] == "serious" && a["cause"] == "expired"),
        "{later}"
    );
    // Three years on the abnormal list propose the serious list.
    assert!(new.iter().any(|a| a["rule"] == "serious.abnormal_3y"));
    assert!(new.iter().all(|a| a["as_of"] == "2029-12-31"));
    let back = run(out.path(), &["--as-of", "2027-01-01"]);
    assert_eq!(back.status.code(), Some(2));
    let err = String::from_utf8_lossy(&back.stderr);
    assert!(err.contains("cannot move back in time"), "{err}");
}

#[test]
fn lists_says_who_is_on_which_list_and_why() {
    let out = tempfile::tempdir().expect("tmp");
    ok(run(out.path(), &[]));
    let listed = log(out.path())
        .into_iter()
        .find(|a| a["list"] == "quality" && a["kind"] == "listed")
        .expect("a quality listing in the seeds");
    let uscc = listed["entity"]["uscc"].as_str().expect("uscc").to_owned();
    let pipelines = repo().join("pipelines");
    let text = ok(tidewatch(
        &[
            "lists",
            "--pipelines",
            pipelines.to_str().expect("path"),
            "--list",
            "quality",
        ],
        out.path(),
    ));
    assert!(text.contains("质量失信黑名单"), "{text}");
    assert!(text.contains(&uscc), "{text}");
    assert!(
        text.contains(listed["rule"].as_str().expect("rule")),
        "{text}"
    );
    for t in listed["triggers"].as_array().expect("triggers") {
        assert!(text.contains(t.as_str().expect("id")), "{text}");
    }
    let one = ok(tidewatch(&["lists", "--uscc", &uscc], out.path()));
    assert!(one.contains(&uscc) && one.contains("listed"), "{one}");
    let none = tidewatch(&["lists"], &out.path().join("nowhere"));
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("tidewatch run"));
}

/// Requests a tiny HTTP receiver saw: (idempotency key, signature ok).
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// A minimal HTTP/1.1 receiver on 127.0.0.1 that answers 200 to `limit`
/// requests, checking each signature against `secret`.
fn receiver(secret: &'static str, limit: usize) -> (String, Seen, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let h = std::thread::spawn(move || {
        for stream in l.incoming().take(limit) {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = BTreeMap::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let n: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; n];
            let _ = r.read_exact(&mut body);
            let sig = headers
                .get("x-tidewatch-signature")
                .cloned()
                .unwrap_or_default();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let good = tidewatch_webhook::verify(&sig, &body, secret.as_bytes(), now, 300).is_ok();
            let key = headers.get("idempotency-key").cloned().unwrap_or_default();
            s.lock().expect("lock").push((key, good));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen, h)
}

#[test]
fn alerts_deliver_posts_the_log_once_and_a_second_delivery_sends_nothing() {
    let out = tempfile::tempdir().expect("tmp");
    ok(run(out.path(), &[]));
    // A short log keeps the test quick: the first 30 alerts.
    let small = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(out.path().join("alerts.ndjson")).expect("log");
    let head: String = text.lines().take(30).map(|l| format!("{l}\n")).collect();
    std::fs::write(small.path().join("alerts.ndjson"), head).expect("write");

    let (url, seen, h) = receiver("rotated-in", 30);
    let hooks = small.path().join("webhooks.toml");
    std::fs::write(
        &hooks,
        format!(
            "[[webhooks]]\nname = \"punishment\"\nurl = \"{url}\"\nsecrets = [\"rotated-out\", \"rotated-in\"]\ntimeout_ms = 2000\n"
        ),
    )
    .expect("write");
    let hooks_arg = hooks.to_str().expect("path");
    let text = ok(tidewatch(
        &[
            "alerts",
            "deliver",
            "--webhooks",
            hooks_arg,
            "--wait-secs",
            "20",
        ],
        small.path(),
    ));
    assert!(text.contains("delivered 30"), "{text}");
    h.join().expect("receiver");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 30);
    assert!(
        seen.iter().all(|(_, good)| *good),
        "every signature verifies"
    );
    let keys: BTreeSet<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), 30, "one request per alert");

    // Resumed: everything was acknowledged, nothing is sent (the receiver
    // is gone; a request would fail).
    let again = ok(tidewatch(
        &[
            "alerts",
            "deliver",
            "--webhooks",
            hooks_arg,
            "--wait-secs",
            "5",
        ],
        small.path(),
    ));
    assert!(again.contains("already acknowledged 30"), "{again}");
    assert!(again.contains("attempts 0"), "{again}");

    // Catch-up from a sequence number.
    let since = ok(tidewatch(&["alerts", "since", "27"], small.path()));
    let seqs: Vec<u64> = since
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, [28, 29, 30]);
}
