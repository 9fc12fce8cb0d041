//! Double-random draws in Kafka mode, on a real Kafka-protocol broker: the
//! population read from the `scores` topic is the file mode's, the list is
//! published to `samples`, results come back on `inspections`, and
//! `tidewatch serve`'s draw endpoints produce what the `draw` command does.

#[path = "support/http.rs"]
mod http;
#[path = "support/kafka.rs"]
mod kafka;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use kafka::{brokers, ok, produce, read_topic, root, seeds, tidewatch, unique_prefix};
use serde_json::{json, Value};

const FOOD: &str = "ZS-2026Q4-food";
const RANDOMNESS: &str = "03 17 22 28 31 35 + 09";

fn food_plan() -> PathBuf {
    root().join("pipelines/draws/food-2026Q4.toml")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Asserts two files have the same bytes, naming the first line that
/// differs (the files are long).
fn same_file(a: &Path, b: &Path) {
    let (x, y) = (read(a), read(b));
    if x == y {
        return;
    }
    let (x, y) = (String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
    let first = x
        .lines()
        .zip(y.lines())
        .enumerate()
        .find(|(_, (l, r))| l != r)
        .map(|(i, (l, r))| format!("line {}:\n  {l}\n  {r}", i + 1))
        .unwrap_or_else(|| "one is a prefix of the other".into());
    panic!(
        "{} and {} differ ({} vs {} lines); first difference at {first}",
        a.display(),
        b.display(),
        x.lines().count(),
        y.lines().count()
    );
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `tidewatch draw …` over the files under `out`.
fn draw_files(args: &[&str], out: &Path) -> Output {
    tidewatch()
        .arg("draw")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--seeds")
        .arg(seeds())
        .arg("--pipelines")
        .arg(root().join("pipelines"))
        .output()
        .expect("runs")
}

/// `tidewatch draw …` in Kafka mode; draws go under `out`, which holds no
/// scores.
fn draw_kafka(args: &[&str], prefix: &str, out: &Path) -> Output {
    tidewatch()
        .arg("draw")
        .args(args)
        .args(["--brokers", &brokers(), "--topic-prefix", prefix])
        .arg("--out")
        .arg(out)
        .arg("--seeds")
        .arg(seeds())
        .arg("--pipelines")
        .arg(root().join("pipelines"))
        .output()
        .expect("runs")
}

/// The one-shot job on the seeds' files.
fn run_files(out: &Path) {
    let o = tidewatch()
        .args(["run", "--seeds"])
        .arg(seeds())
        .arg("--out")
        .arg(out)
        .arg("--pipelines")
        .arg(root().join("pipelines"))
        .output()
        .expect("runs");
    ok(o, "tidewatch run");
}

/// The samples of one plan on the topic, in topic order.
fn samples(prefix: &str, plan: &str) -> Vec<Value> {
    read_topic(&format!("{prefix}samples"))
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(&r.value).expect("a sample is JSON");
            assert_eq!(r.key.as_deref(), v["uscc"].as_str(), "keyed by USCC");
            v
        })
        .filter(|v| v["plan_id"] == plan)
        .collect()
}

/// Distinct samples by id, checking that an id always has one payload.
fn by_id(recs: &[Value]) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    for v in recs {
        let id = v["id"].as_str().expect("id").to_owned();
        assert_eq!(id.len(), 32, "{v}");
        if let Some(prev) = m.insert(id.clone(), v.clone()) {
            assert_eq!(prev, *v, "id {id} with two payloads");
        }
    }
    m
}

#[test]
fn the_scores_topic_gives_the_file_population_and_the_list_goes_to_samples() {
    let prefix = unique_prefix("draw");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    kafka::run_kafka(
        &prefix,
        &tmp.path().join("state"),
        &tmp.path().join("run-out"),
    );
    let files = tmp.path().join("files");
    run_files(&files);
    let plan = food_plan();
    let p = plan.to_str().expect("utf-8");

    // The same plan committed over the files and over the topic: the same
    // population (bytes and digest), hence the same commitment.
    ok(draw_files(&["commit", p], &files), "draw commit (files)");
    let kout = tmp.path().join("kafka");
    let stdout = ok(
        draw_kafka(&["commit", p], &prefix, &kout),
        "draw commit --brokers",
    );
    assert!(stdout.contains(&format!("{prefix}scores")), "{stdout}");
    assert!(!kout.join("summary.json").exists(), "no scores files there");
    let fdir = files.join("draws").join(FOOD);
    let kdir = kout.join("draws").join(FOOD);
    let pop = read(&kdir.join("population.csv"));
    assert!(
        pop.iter().filter(|&&b| b == b'\n').count() > 100,
        "a real population"
    );
    same_file(&kdir.join("population.csv"), &fdir.join("population.csv"));
    let c = json_file(&kdir.join("commitment.json"));
    assert_eq!(
        c["population_digest"],
        json_file(&fdir.join("commitment.json"))["population_digest"]
    );
    same_file(&kdir.join("commitment.json"), &fdir.join("commitment.json"));
    let preview = ok(draw_kafka(&["preview", p], &prefix, &kout), "preview");
    assert!(preview.contains("total to draw"), "{preview}");

    // The draw: the same manifest as file mode, and one sample per chosen
    // entity, matching the list file.
    ok(
        draw_files(&["run", p, "--randomness", RANDOMNESS], &files),
        "draw run (files)",
    );
    let stdout = ok(
        draw_kafka(&["run", p, "--randomness", RANDOMNESS], &prefix, &kout),
        "draw run --brokers",
    );
    same_file(&kdir.join("manifest.json"), &fdir.join("manifest.json"));
    let list = json_file(&kdir.join("list.json"));
    let entries = list["entries"].as_array().expect("entries");
    assert!(!entries.is_empty());
    assert!(
        stdout.contains(&format!(
            "published {} records to {prefix}samples",
            entries.len()
        )),
        "{stdout}"
    );
    let first = samples(&prefix, FOOD);
    assert_eq!(first.len(), entries.len());
    let got: BTreeMap<String, &Value> = first
        .iter()
        .map(|v| (v["uscc"].as_str().expect("uscc").to_owned(), v))
        .collect();
    let m = json_file(&kdir.join("manifest.json"));
    for (e, c) in entries.iter().zip(m["chosen"].as_array().expect("chosen")) {
        let u = e["uscc"].as_str().expect("uscc");
        let s = got
            .get(u)
            .unwrap_or_else(|| panic!("{u} is on the list but not in samples"));
        assert_eq!(s["status"], "chosen");
        assert_eq!(s["officers"], e["officer_ids"], "{u}");
        assert_eq!(s["class"], e["class"], "{u}");
        assert_eq!(s["stratum"], e["stratum"], "{u}");
        assert_eq!(s["name"], e["name"], "{u}");
        assert_eq!(s["rank"], c["rank"], "{u}");
        assert_eq!(s["field"], "food");
    }

    // Running the same draw again republishes the same records.
    ok(
        draw_kafka(&["run", p, "--randomness", RANDOMNESS], &prefix, &kout),
        "draw run again",
    );
    let twice = samples(&prefix, FOOD);
    assert_eq!(twice.len(), 2 * entries.len());
    assert_eq!(by_id(&twice), by_id(&first), "same ids, same payloads");

    // A replacement: the replaced entity's record says so, the new one
    // names what it replaces; the others repeat with their ids.
    let out_uscc = entries[0]["uscc"].as_str().expect("uscc");
    ok(
        draw_kafka(
            &["replace", FOOD, out_uscc, "--reason", "7 已关闭停业"],
            &prefix,
            &kout,
        ),
        "draw replace --brokers",
    );
    let m2 = json_file(&kdir.join("manifest.json"));
    let new = m2["replacements"][0]["replacement"]
        .as_str()
        .expect("a replacement");
    let all = samples(&prefix, FOOD);
    let ids = by_id(&all);
    assert_eq!(
        ids.len(),
        entries.len() + 2,
        "two new records: the replaced and the replacement"
    );
    let last_per_uscc: BTreeMap<&str, &Value> = all
        .iter()
        .map(|v| (v["uscc"].as_str().expect("uscc"), v))
        .collect();
    assert_eq!(last_per_uscc[out_uscc]["status"], "replaced");
    assert_eq!(last_per_uscc[out_uscc]["reason"], "7 已关闭停业");
    assert_eq!(last_per_uscc[out_uscc]["replaced_by"], new);
    assert_eq!(last_per_uscc[new]["status"], "chosen");
    assert_eq!(last_per_uscc[new]["replaces"], out_uscc);
    let chosen_now: BTreeSet<&str> = last_per_uscc
        .iter()
        .filter(|(_, v)| v["status"] == "chosen")
        .map(|(u, _)| *u)
        .collect();
    let in_manifest: BTreeSet<&str> = m2["chosen"]
        .as_array()
        .expect("chosen")
        .iter()
        .map(|c| c["uscc"].as_str().expect("uscc"))
        .collect();
    assert_eq!(chosen_now, in_manifest);
    let v = tidewatch()
        .args(["draw", "verify"])
        .arg(kdir.join("manifest.json"))
        .output()
        .expect("runs");
    assert!(ok(v, "draw verify").starts_with("match"));
}

/// Two results with the plan id: one for a chosen entity, one for an
/// entity that is not on the list.
fn results(on_list: &str, other: &str) -> String {
    format!(
        "{{\"event_id\":\"q4-1\",\"uscc\":\"{on_list}\",\"occurred_on\":\"2026-10-20\",\"domain\":\"food\",\"inspection_type\":\"double_random\",\"result\":\"E\",\"plan_id\":\"{FOOD}\"}}\n\
         {{\"event_id\":\"q4-2\",\"uscc\":\"{other}\",\"occurred_on\":\"2026-10-20\",\"domain\":\"food\",\"inspection_type\":\"double_random\",\"result\":\"1\",\"plan_id\":\"other-plan\"}}\n\
         not json\n"
    )
}

#[test]
fn status_reads_the_results_from_the_inspections_topic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    run_files(&out);
    let p = food_plan();
    let p = p.to_str().expect("utf-8");
    ok(draw_files(&["commit", p], &out), "commit");
    ok(
        draw_files(&["run", p, "--randomness", RANDOMNESS], &out),
        "run",
    );
    let m = json_file(&out.join("draws").join(FOOD).join("manifest.json"));
    let chosen = m["chosen"].as_array().expect("chosen");
    let n = chosen.len();
    let second = chosen[1]["uscc"].as_str().expect("uscc");
    let third = chosen[2]["uscc"].as_str().expect("uscc");

    // The results only on the topic.
    let prefix = unique_prefix("status");
    let feed = tmp.path().join("feed");
    std::fs::create_dir_all(&feed).expect("dir");
    std::fs::write(feed.join("inspections.ndjson"), results(second, third)).expect("write");
    std::fs::write(feed.join("complaints.ndjson"), "").expect("write");
    std::fs::write(feed.join("credit-records.ndjson"), "").expect("write");
    produce(&prefix, &feed);

    let stdout = ok(
        draw_kafka(&["status", FOOD], &prefix, &out),
        "draw status --brokers",
    );
    assert!(
        stdout.contains(&format!("{n} chosen, 1 with results, {} pending", n - 1)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("results from topic {prefix}inspections")),
        "{stdout}"
    );
    assert!(
        stdout.contains("result E 发现问题经责令已改正: 1"),
        "{stdout}"
    );
    assert!(stdout.contains("1 unreadable records skipped"), "{stdout}");
    // The same results from a file say the same.
    let from_file = ok(
        draw_files(
            &[
                "status",
                FOOD,
                "--inspections",
                feed.join("inspections.ndjson").to_str().expect("utf-8"),
            ],
            &out,
        ),
        "draw status --inspections",
    );
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&stdout), body(&from_file));
}

// ---------------------------------------------------------------- serve

fn answer(r: (u16, String), want: u16, what: &str) -> Value {
    assert_eq!(r.0, want, "{what}: {}", r.1);
    serde_json::from_str(&r.1).unwrap_or_else(|e| panic!("{what}: {e}: {}", r.1))
}

/// Kills the child on drop, so a failed assertion leaves no engine running.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_draws_over_http_match_the_draw_command() {
    let prefix = unique_prefix("servedraw");
    produce(&prefix, &seeds());
    let tmp = tempfile::tempdir().expect("tmp");
    let port = http::free_port();
    let planner = "planner-token-for-the-draw-test";
    let cfg = tmp.path().join("tidewatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[kafka]\nbrokers = \"{}\"\ntopic_prefix = \"{prefix}\"\n[engine]\ncheckpoint_dir = \"{}\"\nas_of = \"2026-09-30\"\ncheckpoint_interval_ms = 200\npipelines = \"{}\"\nout = \"{}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\naudit_log = \"{}\"\n[[server.tokens]]\nrole = \"planner\"\ntoken = \"{planner}\"\n",
            brokers(),
            tmp.path().join("state").display(),
            root().join("pipelines").display(),
            tmp.path().join("out").display(),
            tmp.path().join("audit.jsonl").display(),
        ),
    )
    .expect("config");
    let child = Serve(
        tidewatch()
            .args(["serve", "--config"])
            .arg(&cfg)
            .arg("--seeds")
            .arg(seeds())
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );
    // Every seed record consumed and scored, and ready.
    let total = kafka::seed_lines() as f64;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        assert!(Instant::now() < deadline, "serve did not consume the seeds");
        std::thread::sleep(Duration::from_millis(300));
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            continue;
        }
        let (code, body) = http::request(port, "GET", "/metrics", None, None);
        let consumed: f64 = body
            .lines()
            .filter(|l| l.starts_with("tidewatch_events_consumed_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if code == 200
            && consumed >= total
            && http::request(port, "GET", "/readyz", None, None).0 == 200
        {
            break;
        }
    }
    // The batch that brought the last records is scored in the same loop
    // turn; leave it time to be published to the view.
    std::thread::sleep(Duration::from_secs(1));

    let plan = json!({
        "id": "serve-food",
        "field": "food",
        "as_of": "2026-09-30",
        "sampling": {"C": {"ratio": "0.50"}, "D": {"ratio": "1"}},
        "randomness_source": "the test's lottery, draw 1",
    });
    let t = Some(planner);
    let pv = answer(
        http::request(port, "POST", "/v1/draws/preview", t, Some(&plan)),
        200,
        "preview",
    );
    assert!(
        pv["population_rows"].as_u64().is_some_and(|n| n > 100),
        "{pv}"
    );
    assert!(pv["total_quota"].as_u64().is_some_and(|n| n > 0), "{pv}");
    let out = tmp.path().join("out").join("draws").join("serve-food");
    assert!(!out.exists(), "preview writes nothing");

    let c = answer(
        http::request(port, "POST", "/v1/draws", t, Some(&plan)),
        201,
        "commit",
    );
    assert_eq!(c["state"], "committed");
    assert_eq!(c["population_rows"], pv["population_rows"]);
    // Committing the same plan again over the same scores changes nothing.
    let again = answer(
        http::request(port, "POST", "/v1/draws", t, Some(&plan)),
        201,
        "commit again",
    );
    assert_eq!(again["detail"]["unchanged"], true);
    let (code, _) = http::request(
        port,
        "POST",
        "/v1/draws/serve-food/run",
        t,
        Some(&json!({"randomness": ""})),
    );
    assert_eq!(code, 422, "empty randomness refused");
    let r = answer(
        http::request(
            port,
            "POST",
            "/v1/draws/serve-food/run",
            t,
            Some(&json!({"randomness": RANDOMNESS})),
        ),
        200,
        "run",
    );
    assert_eq!(r["state"], "drawn");
    let chosen = r["chosen"].as_u64().expect("chosen");
    assert!(chosen > 0);
    assert_eq!(r["detail"]["published"]["records"], chosen);
    let (code, _) = http::request(
        port,
        "POST",
        "/v1/draws/serve-food/run",
        t,
        Some(&json!({"randomness": "another value"})),
    );
    assert_eq!(code, 409, "a plan is drawn once");
    let v = answer(
        http::request(port, "GET", "/v1/draws/serve-food/verify", t, None),
        200,
        "verify",
    );
    assert_eq!(v["ok"], true, "{v}");
    let s = answer(
        http::request(port, "GET", "/v1/draws/serve-food", t, None),
        200,
        "status",
    );
    assert_eq!(s["state"], "drawn");
    assert_eq!(s["detail"]["results"]["with_results"], 0);
    assert_eq!(s["detail"]["results"]["pending"], chosen);
    assert_eq!(
        http::request(port, "GET", "/v1/draws/no-such-plan", t, None).0,
        404
    );
    assert_eq!(
        http::request(port, "GET", "/v1/draws/..%2Fetc/verify", t, None).0,
        404
    );

    // The draw command over the scores topic: the same commitment and
    // manifest, byte for byte.
    let plan_file = tmp.path().join("serve-food.json");
    std::fs::write(&plan_file, plan.to_string()).expect("plan file");
    let pf = plan_file.to_str().expect("utf-8");
    let cli = tmp.path().join("cli");
    ok(
        draw_kafka(&["commit", pf], &prefix, &cli),
        "draw commit --brokers",
    );
    ok(
        draw_kafka(&["run", pf, "--randomness", RANDOMNESS], &prefix, &cli),
        "draw run --brokers",
    );
    let cdir = cli.join("draws").join("serve-food");
    for f in [
        "commitment.json",
        "population.csv",
        "manifest.json",
        "list.csv",
        "list.json",
        "publication.csv",
    ] {
        same_file(&out.join(f), &cdir.join(f));
    }

    // A replacement over HTTP verifies, and a result on the inspections
    // topic shows in the status.
    let m = json_file(&out.join("manifest.json"));
    let first = m["chosen"][0]["uscc"].as_str().expect("uscc").to_owned();
    let second = m["chosen"][1]["uscc"].as_str().expect("uscc").to_owned();
    let rp = answer(
        http::request(
            port,
            "POST",
            "/v1/draws/serve-food/replace",
            t,
            Some(&json!({"uscc": first, "reason": "7"})),
        ),
        200,
        "replace",
    );
    assert_eq!(rp["replacements"], 1);
    let v = answer(
        http::request(port, "GET", "/v1/draws/serve-food/verify", t, None),
        200,
        "verify after the replacement",
    );
    assert_eq!(v["ok"], true, "{v}");
    let feed = tmp.path().join("feed");
    std::fs::create_dir_all(&feed).expect("dir");
    std::fs::write(
        feed.join("inspections.ndjson"),
        format!(
            "{{\"event_id\":\"sv-1\",\"uscc\":\"{second}\",\"occurred_on\":\"2026-09-20\",\"domain\":\"food\",\"inspection_type\":\"double_random\",\"result\":\"E\",\"plan_id\":\"serve-food\"}}\n"
        ),
    )
    .expect("write");
    std::fs::write(feed.join("complaints.ndjson"), "").expect("write");
    std::fs::write(feed.join("credit-records.ndjson"), "").expect("write");
    produce(&prefix, &feed);
    let s = answer(
        http::request(port, "GET", "/v1/draws/serve-food", t, None),
        200,
        "status with a result",
    );
    assert_eq!(s["replacements"], 1);
    assert_eq!(s["detail"]["results"]["with_results"], 1, "{s}");
    assert_eq!(
        s["detail"]["results"]["by_code"]["E 发现问题经责令已改正"],
        1
    );
    // Every draw action is in the audit log.
    let audit = std::fs::read_to_string(tmp.path().join("audit.jsonl")).expect("audit");
    for action in ["draw.commit", "draw.run", "draw.replace"] {
        assert!(audit.contains(action), "{action} audited");
    }

    kafka::terminate(&child.0);
}
