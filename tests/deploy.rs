//! The deployment files under deploy/ checked as far as one machine allows:
//! promtool on the Prometheus config, the rules and the metrics page; every
//! metric the dashboard and the rules use is one the engine exports; the
//! compose file and the Kubernetes manifests agree with each other and with
//! the configuration structs.
//!
//! promtool comes from scripts/ci/promtool.sh (Debian's prometheus
//! package). Under CI=true a missing promtool fails these tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use tidewatch_metrics::{exported_series, Metrics, FAMILIES};
use tidewatch_model::{Class, RejectReason};
use tidewatch_server::ServerConfig;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy(p: &str) -> PathBuf {
    root().join("deploy").join(p)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The promtool path, or `None` (outside CI only) when it cannot be had.
fn promtool() -> Option<&'static Path> {
    static P: OnceLock<Option<PathBuf>> = OnceLock::new();
    P.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("scripts/ci/promtool.sh"))
            .stderr(Stdio::inherit())
            .output();
        let found = match out {
            Ok(o) if o.status.success() => {
                let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
                (!p.is_empty()).then(|| PathBuf::from(p))
            }
            _ => None,
        };
        if found.is_none() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("promtool is required under CI (scripts/ci/promtool.sh failed)");
            }
            eprintln!("promtool unavailable: skipping promtool checks outside CI");
        }
        found
    })
    .as_deref()
}

fn run_promtool(args: &[&str], dir: &Path, stdin: Option<&str>) -> (bool, String) {
    let Some(p) = promtool() else {
        return (true, String::new());
    };
    let mut child = Command::new(p)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    if let Some(mut si) = child.stdin.take() {
        if let Some(text) = stdin {
            si.write_all(text.as_bytes()).expect("write to promtool");
        }
    }
    let out = child.wait_with_output().expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn promtool_accepts_the_config_and_the_rules() {
    let dir = deploy("prometheus");
    let (ok, out) = run_promtool(&["check", "config", "prometheus.yml"], &dir, None);
    assert!(ok, "promtool check config:\n{out}");
    let (ok, out) = run_promtool(&["check", "rules", "rules.yml"], &dir, None);
    assert!(ok, "promtool check rules:\n{out}");
}

#[test]
fn rule_unit_tests_pass_and_show_the_engine_down_alert_firing() {
    let dir = deploy("prometheus");
    let tests: Yaml = serde_yaml::from_str(&read(&dir.join("rules_test.yml"))).expect("yaml");
    let fires_down = tests["tests"]
        .as_sequence()
        .expect("tests")
        .iter()
        .flat_map(|t| {
            t["alert_rule_test"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .any(|a| {
            a["alertname"] == "TidewatchDown"
                && a["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty())
        });
    assert!(
        fires_down,
        "rules_test.yml must expect TidewatchDown to fire"
    );
    let rules = read(&dir.join("rules.yml"));
    assert!(rules.contains("up{job=\"tidewatch\"} == 0"));
    let (ok, out) = run_promtool(&["test", "rules", "rules_test.yml"], &dir, None);
    assert!(ok, "promtool test rules:\n{out}");
}

/// A metrics value with every family holding at least one series.
fn busy_metrics() -> Metrics {
    let m = Metrics::new();
    for topic in ["inspections", "complaints", "credit-records"] {
        m.consumed(topic, 1000);
        m.applied(topic, 990);
        m.duplicate(topic);
        m.rejected(topic, RejectReason::MalformedJson);
    }
    m.events_held.set(3);
    m.scored_batch(250, Duration::from_millis(12));
    m.set_class_distribution([
        ("general", "330902", Class::A, 800),
        ("general", "330902", Class::D, 20),
        ("food", "330903", Class::B, 120),
    ]);
    m.set_as_of_days(20_726);
    m.set_model_versions([("general", "sha256:decbc70fcb359758")]);
    m.set_list_size("serious", 4);
    m.set_list_size("abnormal", 31);
    m.alert_emitted("listed", "serious");
    m.delivery_attempt(
        "listed",
        "joint-punishment",
        false,
        false,
        Duration::from_millis(80),
    );
    m.delivery_attempt(
        "listed",
        "joint-punishment",
        true,
        true,
        Duration::from_millis(70),
    );
    m.alert_parked("licensing");
    m.set_consumer_lag([
        ("tidewatch.inspections", 0, 12),
        ("tidewatch.inspections", 1, 0),
    ]);
    m.checkpoint_written(Duration::from_millis(300));
    m.checkpoint_failures.inc();
    m.draw_run("food");
    m.audit_entries.set(7);
    m.ready.set(1);
    m.http_request("/v1/entities/{uscc}", "GET", 200, Duration::from_millis(2));
    m
}

#[test]
fn promtool_check_metrics_is_clean_on_the_rendered_page() {
    let text = busy_metrics().render();
    for f in FAMILIES {
        assert!(text.contains(&format!("# TYPE {} ", f.name)), "{}", f.name);
    }
    let (ok, out) = run_promtool(&["check", "metrics"], &root(), Some(&text));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics:\n{out}"
    );
}

/// GET over plain HTTP/1.1 on loopback; returns status line and body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8(buf).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

#[tokio::test]
async fn a_running_server_metrics_page_passes_promtool() {
    use tidewatch_server::memory::{MemoryAlerts, MemoryDraws, MemoryEngine};
    let dir = tempfile::tempdir().expect("tmp");
    let config = ServerConfig {
        audit_log: dir.path().join("audit.jsonl"),
        ..ServerConfig::default()
    };
    let metrics = busy_metrics();
    let state = tidewatch_server::AppState::new(
        &config,
        Vec::new(),
        tidewatch_server::Services {
            engine: Arc::new(MemoryEngine::new("2026-09-30")),
            draws: Arc::new(MemoryDraws::new(0)),
            alerts: Arc::new(MemoryAlerts::new()),
            metrics: metrics.clone(),
            audit: Arc::new(tidewatch_server::AuditLog::open(&config.audit_log).expect("audit")),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tidewatch_server::serve_with_shutdown(
        listener,
        tidewatch_server::router(state),
        async {
            let _ = stopped.await;
        },
    ));
    let (status, _) = http_get(addr, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    let (status, _) = http_get(addr, "/readyz").await;
    assert!(status.contains("200"), "{status}");
    let (status, body) = http_get(addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    // The scrapes above are counted on the page itself.
    assert!(body.contains(r#"route="/healthz""#), "{body}");
    let _ = stop.send(());
    server
        .await
        .expect("server task")
        .expect("server stops cleanly");
    let (ok, out) = run_promtool(&["check", "metrics"], &root(), Some(&body));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics:\n{out}"
    );
}

// --- metric references ----------------------------------------------------

/// Metric names and the label names used with them in a PromQL expression.
/// Small and purpose-built: identifiers followed by `{…}` are selectors;
/// `by (…)`/`without (…)`/`on (…)`/`ignoring (…)` lists are labels.
fn references(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let b = expr.as_bytes();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            // Skip string literals (label values, legend text).
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == b'[' {
            while i < b.len() && b[i] != b']' {
                i += 1;
            }
            continue;
        }
        if (c.is_ascii_alphabetic() || c == b'_')
            && (i == 0 || !ident(b[i - 1]) && b[i - 1] != b'$')
        {
            let start = i;
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let next = b.get(j).copied();
            if [
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ]
            .contains(&word)
            {
                if next == Some(b'(') {
                    let end = expr[j..].find(')').map_or(b.len(), |e| j + e);
                    for l in expr[j + 1..end].split(',') {
                        let l = l.trim();
                        if !l.is_empty() {
                            labels.insert(l.to_string());
                        }
                    }
                    i = end + 1;
                }
                continue;
            }
            if next == Some(b'(') {
                continue; // a function
            }
            if word.starts_with("tidewatch_") || word.starts_with("process_") || word == "up" {
                metrics.insert(word.to_string());
            }
            if next == Some(b'{') {
                let end = expr[j..].find('}').map_or(b.len(), |e| j + e);
                let mut k = j + 1;
                while k < end {
                    let s = k;
                    while k < end && ident(b[k]) {
                        k += 1;
                    }
                    if k > s {
                        labels.insert(expr[s..k].to_string());
                    }
                    // Skip the operator and the quoted value.
                    while k < end && b[k] != b'"' {
                        k += 1;
                    }
                    k += 1;
                    while k < end && b[k] != b'"' {
                        k += if b[k] == b'\\' { 2 } else { 1 };
                    }
                    k += 1;
                    while k < end && (b[k] == b',' || b[k] == b' ') {
                        k += 1;
                    }
                }
                i = end + 1;
            }
            continue;
        }
        i += 1;
    }
    (metrics, labels)
}

fn collect_exprs(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Json::String(s)) => out.push(s.clone()),
                    ("query" | "definition", Json::String(s)) if s.contains("label_values") => {
                        // label_values(metric{…}, label)
                        let inner = s.trim_start_matches("label_values(").trim_end_matches(')');
                        let (sel, label) = inner.rsplit_once(',').unwrap_or((inner, ""));
                        out.push(format!("count by ({}) ({})", label.trim(), sel.trim()));
                    }
                    _ => collect_exprs(v, out),
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

fn dashboard_exprs() -> Vec<String> {
    let dash: Json =
        serde_json::from_str(&read(&deploy("grafana/tidewatch.json"))).expect("dashboard JSON");
    let mut out = Vec::new();
    collect_exprs(&dash, &mut out);
    out
}

fn rule_exprs() -> Vec<(String, String)> {
    let rules: Yaml =
        serde_yaml::from_str(&read(&deploy("prometheus/rules.yml"))).expect("rules YAML");
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["alert"].as_str().unwrap_or_default().to_string(),
                r["expr"].as_str().expect("expr").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_reference_scanner_sees_metrics_and_labels() {
    let (m, l) = references(
        r#"sum by (region, class) (tidewatch_entities{field="$field", region=~"a|b"}) / ignoring(class) group_left sum(rate(tidewatch_x_total[5m])) > up{job="t"}"#,
    );
    assert_eq!(
        m.into_iter().collect::<Vec<_>>(),
        ["tidewatch_entities", "tidewatch_x_total", "up"]
    );
    assert_eq!(
        l.into_iter().collect::<Vec<_>>(),
        ["class", "field", "job", "region"]
    );
}

#[test]
fn dashboard_and_rules_use_only_metrics_the_engine_exports() {
    let exported = exported_series();
    let mut label_names: BTreeSet<String> = FAMILIES
        .iter()
        .flat_map(|f| f.labels.iter().map(|l| l.to_string()))
        .collect();
    // Added by Prometheus (target labels) or by histograms.
    label_names.extend(["instance", "job", "le", "deployment"].map(String::from));

    let mut used = BTreeSet::new();
    let exprs: Vec<(String, String)> = dashboard_exprs()
        .into_iter()
        .map(|e| ("dashboard".to_string(), e))
        .chain(rule_exprs())
        .collect();
    assert!(exprs.len() > 20, "found only {} expressions", exprs.len());
    for (origin, e) in &exprs {
        let (metrics, labels) = references(e);
        assert!(!metrics.is_empty(), "{origin}: no metric in {e}");
        for m in metrics {
            assert!(
                m == "up" || exported.contains(&m),
                "{origin}: {m} is not exported by the engine (in {e})"
            );
            used.insert(m);
        }
        for l in labels {
            assert!(
                label_names.contains(&l),
                "{origin}: unknown label {l} in {e}"
            );
        }
    }
    // The dashboard shows what the issue asks for.
    let dash = dashboard_exprs().join("\n");
    for m in [
        "tidewatch_entities",
        "tidewatch_events_consumed_total",
        "tidewatch_events_rejected_total",
        "tidewatch_consumer_lag_messages",
        "tidewatch_list_entities",
        "tidewatch_alerts_emitted_total",
        "tidewatch_alerts_delivered_total",
    ] {
        assert!(dash.contains(m), "dashboard lacks {m}");
    }
    assert!(dash.contains(r#"field="$field""#) && dash.contains(r#"region=~"$region""#));
    // And the rules cover what the issue asks for.
    let rules: Vec<String> = rule_exprs().into_iter().map(|(_, e)| e).collect();
    let rules = rules.join("\n");
    for m in [
        "up{",
        "tidewatch_consumer_lag_messages",
        "tidewatch_events_rejected_total",
        "tidewatch_alert_delivery_failures_total",
        "tidewatch_checkpoint_age_seconds",
    ] {
        assert!(rules.contains(m), "rules lack {m}");
    }
}

#[test]
fn dashboard_queries_are_valid_promql() {
    // promtool parses PromQL when it checks rules: wrap each dashboard
    // query, with Grafana's variables filled in, as a recording rule.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in dashboard_exprs().iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "5m")
            .replace("$field", "general")
            .replace("$region", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&e).expect("quote")
        ));
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("dashboard_rules.yml"), &rules).expect("write");
    let (ok, out) = run_promtool(&["check", "rules", "dashboard_rules.yml"], dir.path(), None);
    assert!(ok, "dashboard PromQL:\n{out}\n{rules}");
}

#[test]
fn dashboard_is_a_grafana_dashboard_with_unique_panel_ids() {
    let dash: Json = serde_json::from_str(&read(&deploy("grafana/tidewatch.json"))).expect("JSON");
    assert_eq!(dash["uid"], "tidewatch");
    let panels = dash["panels"].as_array().expect("panels");
    let ids: BTreeSet<i64> = panels.iter().filter_map(|p| p["id"].as_i64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let vars: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(vars, ["datasource", "field", "region"]);
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert!(
            p["targets"].as_array().is_some_and(|t| !t.is_empty()),
            "{}",
            p["title"]
        );
    }
}

// --- compose and Kubernetes ------------------------------------------------

/// The image both deployments run: the binary's own version.
fn image() -> String {
    format!("tidewatch:{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Deserialize)]
struct ServerSection {
    server: ServerConfig,
}

/// Parses a config file with the engine's and the server's own parsers
/// (both refuse unknown keys) and returns the server section.
fn check_config(text: &str, origin: &str) -> (tidewatch_kafka::Config, ServerConfig) {
    let engine = tidewatch_kafka::Config::parse(text)
        .unwrap_or_else(|e| panic!("{origin}: engine config: {e:#}"));
    let table: toml::Table = toml::from_str(text).expect("TOML");
    let server_only = toml::Table::from_iter(
        table
            .get("server")
            .cloned()
            .map(|s| ("server".to_string(), s)),
    );
    let server: ServerSection = toml::Value::Table(server_only)
        .try_into()
        .unwrap_or_else(|e| panic!("{origin}: [server]: {e}"));
    let server = server.server;
    server
        .validate()
        .unwrap_or_else(|e| panic!("{origin}: {e}"));
    (engine, server)
}

fn token_envs(s: &ServerConfig) -> BTreeSet<String> {
    s.tokens
        .iter()
        .filter_map(|t| t.token_env.clone())
        .collect()
}

fn yaml_docs(text: &str) -> Vec<Yaml> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Yaml::deserialize(d).expect("YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn s(v: &Yaml) -> &str {
    v.as_str().unwrap_or_default()
}

#[test]
fn compose_file_is_consistent() {
    let c: Yaml = serde_yaml::from_str(&read(&deploy("compose.yaml"))).expect("compose YAML");
    let services = c["services"].as_mapping().expect("services");
    for name in ["kafka", "tidewatch", "prometheus", "grafana"] {
        assert!(services.contains_key(name), "compose lacks {name}");
    }
    let tw = &c["services"]["tidewatch"];
    assert_eq!(s(&tw["image"]), image());
    assert_eq!(s(&tw["build"]["dockerfile"]), "deploy/Dockerfile");
    assert!(deploy("Dockerfile").exists());

    let (engine, server) = check_config(&read(&deploy("tidewatch.toml")), "deploy/tidewatch.toml");
    let port = server.listen.port();
    assert!(
        !server.listen.ip().is_loopback(),
        "in a container the API must listen beyond loopback"
    );

    // The command's --config is where the config file is mounted.
    let cmd: Vec<&str> = tw["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .map(s)
        .collect();
    assert_eq!(cmd[0], "serve");
    let cfg_at = cmd
        .iter()
        .position(|a| *a == "--config")
        .map(|i| cmd[i + 1])
        .expect("--config");
    let volumes: Vec<&str> = tw["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .map(s)
        .collect();
    assert!(
        volumes.contains(&format!("./tidewatch.toml:{cfg_at}:ro").as_str()),
        "{volumes:?}"
    );
    // State, audit log and outputs are on the data volume.
    let data = volumes
        .iter()
        .find_map(|v| v.strip_prefix("tidewatch-data:"))
        .expect("data volume");
    for p in [
        &engine.engine.checkpoint_dir,
        &server.audit_log,
        &engine.engine.out,
    ] {
        assert!(
            p.starts_with(data),
            "{} is not on the data volume {data}",
            p.display()
        );
    }

    // Published port = listen port, on loopback.
    let ports: Vec<&str> = tw["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(s)
        .collect();
    assert_eq!(ports, [format!("127.0.0.1:{port}:{port}")]);

    // Environment: the broker is the kafka service's advertised listener;
    // every token the config names is set.
    let env = tw["environment"].as_mapping().expect("environment");
    let brokers = s(&env[&Yaml::from("TIDEWATCH_BROKERS")]);
    let advertised = s(&c["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]);
    assert!(
        advertised.ends_with(&format!("//{brokers}")),
        "{brokers} vs {advertised}"
    );
    assert_eq!(engine.kafka.brokers, brokers);
    let set: BTreeSet<String> = env.keys().map(|k| s(k).to_string()).collect();
    for t in token_envs(&server) {
        assert!(set.contains(&t), "compose does not set {t}");
        assert!(
            s(&env[&Yaml::from(t.as_str())]).contains(":?"),
            "{t} must be required"
        );
    }
    for k in &set {
        assert!(
            KNOWN_ENV.contains(&k.as_str()) || token_envs(&server).contains(k),
            "compose sets {k}, which tidewatch does not read"
        );
    }
    // Tokens resolve when the variables are set.
    let resolved = server
        .resolve_tokens(|k| Some(format!("{k}-test-token")))
        .map(|t| t.len());
    assert_eq!(resolved, Ok(3));

    // Prometheus scrapes the tidewatch service on the listen port.
    let prom: Yaml =
        serde_yaml::from_str(&read(&deploy("prometheus/prometheus.yml"))).expect("yaml");
    let targets: Vec<&str> = prom["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_sequence()
        .expect("targets")
        .iter()
        .map(s)
        .collect();
    assert_eq!(targets, [format!("tidewatch:{port}")]);
    assert_eq!(s(&prom["scrape_configs"][0]["metrics_path"]), "/metrics");
    let pvol: Vec<&str> = c["services"]["prometheus"]["volumes"]
        .as_sequence()
        .expect("v")
        .iter()
        .map(s)
        .collect();
    assert!(pvol.contains(&"./prometheus:/etc/prometheus:ro"));

    // Grafana reads from the prometheus service and loads the dashboard.
    let ds: Yaml = serde_yaml::from_str(&read(&deploy(
        "grafana/provisioning/datasources/prometheus.yml",
    )))
    .expect("yaml");
    assert_eq!(s(&ds["datasources"][0]["url"]), "http://prometheus:9090");
    let dp: Yaml = serde_yaml::from_str(&read(&deploy(
        "grafana/provisioning/dashboards/tidewatch.yml",
    )))
    .expect("yaml");
    let dash_dir = s(&dp["providers"][0]["options"]["path"]);
    let gvol: Vec<&str> = c["services"]["grafana"]["volumes"]
        .as_sequence()
        .expect("v")
        .iter()
        .map(s)
        .collect();
    assert!(
        gvol.contains(&format!("./grafana/tidewatch.json:{dash_dir}/tidewatch.json:ro").as_str()),
        "{gvol:?}"
    );

    // Every bind-mounted host path exists.
    for svc in services.values() {
        for v in svc["volumes"].as_sequence().into_iter().flatten().map(s) {
            if let Some(rest) = v.strip_prefix("./") {
                let host = rest.split(':').next().unwrap_or_default();
                assert!(deploy(host).exists(), "compose mounts missing ./{host}");
            }
        }
    }

    // The image carries the pipelines where the config looks for them.
    let dockerfile = read(&deploy("Dockerfile"));
    assert!(dockerfile.contains(&format!(
        "COPY pipelines {}",
        engine.engine.pipelines.display()
    )));
    assert!(dockerfile.contains(&format!("EXPOSE {port}")));
}

/// Environment variables tidewatch reads besides the token variables the
/// config names (the engine's overrides, docs/streaming.md, and the log
/// filter).
const KNOWN_ENV: &[&str] = &[
    "TIDEWATCH_LOG",
    "TIDEWATCH_BROKERS",
    "TIDEWATCH_GROUP_ID",
    "TIDEWATCH_GROUP",
    "TIDEWATCH_TOPIC_PREFIX",
    "TIDEWATCH_CHECKPOINT_DIR",
    "TIDEWATCH_AS_OF",
    "TIDEWATCH_BATCH_MAX",
    "TIDEWATCH_LATENCY_MS",
    "TIDEWATCH_CHECKPOINT_INTERVAL_MS",
    "TIDEWATCH_HOLD_GRACE_MS",
    "TIDEWATCH_CATCH_UP_IDLE_MS",
];

#[test]
fn kubernetes_manifests_are_consistent() {
    let dir = deploy("k8s");
    let kust: Yaml = serde_yaml::from_str(&read(&dir.join("kustomization.yaml"))).expect("yaml");
    let listed: BTreeSet<String> = kust["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|v| s(v).to_string())
        .collect();
    let mut on_disk = BTreeSet::new();
    let mut docs: BTreeMap<(String, String), Yaml> = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("k8s dir") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name == "kustomization.yaml" || !name.ends_with(".yaml") {
            continue;
        }
        on_disk.insert(name);
        for d in yaml_docs(&read(&p)) {
            let key = (
                s(&d["kind"]).to_string(),
                s(&d["metadata"]["name"]).to_string(),
            );
            assert!(
                !key.0.is_empty() && !key.1.is_empty(),
                "{}: kind and name",
                p.display()
            );
            assert!(
                docs.insert(key.clone(), d).is_none(),
                "{key:?} defined twice"
            );
        }
    }
    assert_eq!(listed, on_disk, "kustomization lists every manifest");
    let get = |kind: &str, name: &str| {
        docs.get(&(kind.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };

    let sts = get("StatefulSet", "tidewatch");
    let pod = &sts["spec"]["template"];
    let labels = pod["metadata"]["labels"].as_mapping().expect("pod labels");
    assert_eq!(
        &sts["spec"]["selector"]["matchLabels"],
        &pod["metadata"]["labels"]
    );
    let ctr = &pod["spec"]["containers"][0];
    assert_eq!(s(&ctr["image"]), image());

    // The config: the ConfigMap's file parses with the real structs.
    let cm = get("ConfigMap", "tidewatch-config");
    let args: Vec<&str> = ctr["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(s)
        .collect();
    assert_eq!(args[0], "serve");
    let cfg_at = args
        .iter()
        .position(|a| *a == "--config")
        .map(|i| args[i + 1])
        .expect("--config");
    let (cfg_dir, cfg_file) = cfg_at.rsplit_once('/').expect("a path");
    let text = s(&cm["data"][cfg_file]);
    let (engine, server) = check_config(text, "k8s ConfigMap");
    let port = server.listen.port();

    let mounts = ctr["volumeMounts"].as_sequence().expect("mounts");
    let mount = |vol: &str| {
        mounts
            .iter()
            .find(|m| m["name"] == vol)
            .map(|m| s(&m["mountPath"]).to_string())
            .unwrap_or_else(|| panic!("no mount of {vol}"))
    };
    assert_eq!(mount("config"), cfg_dir);
    let vols = pod["spec"]["volumes"].as_sequence().expect("volumes");
    assert!(vols
        .iter()
        .any(|v| v["name"] == "config" && v["configMap"]["name"] == "tidewatch-config"));
    // Checkpoints, audit log and outputs are on the per-member claim.
    let data = mount("data");
    assert_eq!(
        s(&sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]),
        "data"
    );
    for p in [
        &engine.engine.checkpoint_dir,
        &server.audit_log,
        &engine.engine.out,
    ] {
        assert!(
            p.starts_with(&data),
            "{} is not on the data volume",
            p.display()
        );
    }

    // Ports, probes and scrape annotations agree with the listen address.
    let cport = &ctr["ports"][0];
    assert_eq!(cport["containerPort"].as_u64(), Some(u64::from(port)));
    let port_name = s(&cport["name"]);
    assert_eq!(s(&ctr["readinessProbe"]["httpGet"]["path"]), "/readyz");
    assert_eq!(s(&ctr["livenessProbe"]["httpGet"]["path"]), "/healthz");
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert_eq!(s(&ctr[probe]["httpGet"]["port"]), port_name, "{probe}");
    }
    let ann = &pod["metadata"]["annotations"];
    assert_eq!(s(&ann["prometheus.io/port"]), port.to_string());
    assert_eq!(s(&ann["prometheus.io/path"]), "/metrics");

    // Services select the pods and target the named port; the headless
    // one is the StatefulSet's.
    for name in ["tidewatch", "tidewatch-headless"] {
        let svc = get("Service", name);
        for (k, v) in svc["spec"]["selector"].as_mapping().expect("selector") {
            assert_eq!(labels.get(k), Some(v), "{name} selects the pods");
        }
        assert_eq!(s(&svc["spec"]["ports"][0]["targetPort"]), port_name);
        assert_eq!(
            svc["spec"]["ports"][0]["port"].as_u64(),
            Some(u64::from(port))
        );
    }
    assert_eq!(s(&sts["spec"]["serviceName"]), "tidewatch-headless");
    assert_eq!(
        s(&get("Service", "tidewatch-headless")["spec"]["clusterIP"]),
        "None"
    );

    // Environment: every token variable the config names is set from the
    // Secret, every Secret reference exists, and nothing unknown is set.
    let secret = get("Secret", "tidewatch-secrets");
    let keys: BTreeSet<&str> = secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .map(s)
        .collect();
    let env = ctr["env"].as_sequence().expect("env");
    let names: BTreeSet<String> = env.iter().map(|e| s(&e["name"]).to_string()).collect();
    for t in token_envs(&server) {
        assert!(names.contains(&t), "the pod does not set {t}");
    }
    for e in env {
        let n = s(&e["name"]);
        assert!(
            KNOWN_ENV.contains(&n) || token_envs(&server).contains(n),
            "the pod sets {n}, which tidewatch does not read"
        );
        let r = &e["valueFrom"]["secretKeyRef"];
        if !r.is_null() {
            assert_eq!(s(&r["name"]), "tidewatch-secrets");
            assert!(keys.contains(s(&r["key"])), "Secret lacks {}", s(&r["key"]));
        }
    }
    // Several replicas only as one consumer group (each holding its share
    // of the partitions), no more than there are partitions, each with its
    // own checkpoint volume.
    let replicas = sts["spec"]["replicas"].as_i64().expect("replicas");
    assert!(replicas >= 1);
    if replicas > 1 {
        assert!(
            engine.engine.group,
            "{replicas} replicas need engine.group = true, or each would score everything"
        );
        assert!(
            replicas <= i64::from(engine.kafka.partitions),
            "{replicas} replicas for {} partitions",
            engine.kafka.partitions
        );
    }
    let claims = sts["spec"]["volumeClaimTemplates"]
        .as_sequence()
        .expect("volumeClaimTemplates");
    let state_dir = engine.engine.checkpoint_dir.to_string_lossy().into_owned();
    let mounts = ctr["volumeMounts"].as_sequence().expect("volumeMounts");
    assert!(
        mounts.iter().any(|m| {
            state_dir.starts_with(s(&m["mountPath"]))
                && claims.iter().any(|c| c["metadata"]["name"] == m["name"])
        }),
        "the checkpoint directory {state_dir} is on a per-replica volume"
    );
    assert!(!engine.kafka.group_id.is_empty());
    let pdb = get("PodDisruptionBudget", "tidewatch");
    assert_eq!(
        &pdb["spec"]["selector"]["matchLabels"],
        &sts["spec"]["selector"]["matchLabels"]
    );
}

// --- the operator's audit check ---------------------------------------------

#[test]
fn audit_verify_command_reports_the_head_and_detects_tampering() {
    use tidewatch_server::{AuditLog, AuditRecord};
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&p).expect("open");
    for i in 0..3 {
        log.append(AuditRecord {
            actor: "planning-desk".into(),
            action: "draw.run".into(),
            subject: format!("plan-{i}"),
            detail: serde_json::json!({"field": "food"}),
        })
        .expect("append");
    }
    let head = log.head();
    drop(log);
    let tidewatch = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_tidewatch"))
            .args(args)
            .output()
            .expect("runs");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).to_string(),
        )
    };
    let file = p.to_str().expect("utf-8 path");
    let (code, out) = tidewatch(&["audit", "verify", file]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("head 3:{}", head.hash)), "{out}");
    let anchor = format!("3:{}", head.hash);
    assert_eq!(
        tidewatch(&["audit", "verify", file, "--anchor", &anchor]).0,
        Some(0)
    );

    // Delete the last entry: the chain alone still holds, the anchor does not.
    let text = read(&p);
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&p, format!("{}\n", kept.join("\n"))).expect("write");
    assert_eq!(tidewatch(&["audit", "verify", file]).0, Some(0));
    let (code, out) = tidewatch(&["audit", "verify", file, "--anchor", &anchor]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("anchor"), "{out}");

    // Edit an entry.
    std::fs::write(&p, text.replacen("plan-0", "plan-9", 1)).expect("write");
    let (code, out) = tidewatch(&["audit", "verify", file]);
    assert_eq!(code, Some(1));
    assert!(out.contains("line 1") && out.contains("edited"), "{out}");
}
