//! The small subcommands, driven as a user would from a shell.

use std::process::Command;

fn tidewatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tidewatch"))
}

#[test]
fn uscc_reports_each_code_in_order_and_fails_if_any_is_bad() {
    let out = tidewatch()
        .args([
            "uscc",
            "9144030071526726XG",
            "9144030071526726XA",
            "9144030071526726xg",
            "123",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "9144030071526726XG\tvalid");
    assert!(lines[1].contains("expected 'G'"), "{}", lines[1]);
    assert!(
        lines[2].contains("did you mean 9144030071526726XG"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains("expected 18 characters, got 3"),
        "{}",
        lines[3]
    );
}

#[test]
fn uscc_exits_zero_when_all_valid() {
    let out = tidewatch()
        .args(["uscc", "9144030071526726XG", "914403001922038216"])
        .output()
        .expect("runs");
    assert!(out.status.success());
}

#[test]
fn seed_is_deterministic() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    for d in [&a, &b] {
        let st = tidewatch()
            .args([
                "seed",
                "--entities",
                "500",
                "--months",
                "24",
                "--seed",
                "7",
                "--out",
            ])
            .arg(d.path())
            .status()
            .expect("runs");
        assert!(st.success());
    }
    for f in [
        "inspections.ndjson",
        "complaints.ndjson",
        "credit-records.ndjson",
        "officers.ndjson",
        "meta.json",
    ] {
        let x = std::fs::read(a.path().join(f)).expect("written");
        let y = std::fs::read(b.path().join(f)).expect("written");
        assert!(!x.is_empty(), "{f} empty");
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
}

#[test]
fn feature_catalogue_lists_every_feature_once() {
    let out = tidewatch().args(["features"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.lines().count() >= 40);
    assert!(text
        .lines()
        .any(|l| l.starts_with("related_in_trouble\trelations")));
}

#[test]
fn run_without_as_of_explains_what_is_missing() {
    let d = tempfile::tempdir().expect("tmp");
    let out = tidewatch()
        .args(["run", "--seeds"])
        .arg(d.path())
        .arg("--out")
        .arg(d.path().join("out"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(err.contains("--as-of"), "{err}");
}

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn feature_docs_match_the_catalogue() {
    let out = tidewatch()
        .args(["features", "--markdown"])
        .output()
        .expect("runs");
    let table = String::from_utf8(out.stdout).expect("utf-8");
    let doc = std::fs::read_to_string(repo().join("docs/features.md")).expect("docs/features.md");
    assert!(
        doc.contains(&table),
        "docs/features.md is out of date: regenerate it with `tidewatch features --markdown`"
    );
}

#[test]
fn explain_prints_the_card_line_by_line() {
    // The first registered entity of the seeds.
    let seeds = repo().join("seeds");
    let first = std::fs::read_to_string(seeds.join("credit-records.ndjson")).expect("seeds");
    let uscc = first
        .lines()
        .find(|l| l.contains("\"kind\":\"registered\""))
        .and_then(|l| l.split("\"uscc\":\"").nth(1))
        .and_then(|r| r.get(..18))
        .expect("a registration")
        .to_owned();
    let out = tidewatch()
        .args(["explain", &uscc, "--seeds"])
        .arg(&seeds)
        .arg("--pipelines")
        .arg(repo().join("pipelines"))
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with(&uscc));
    assert!(text.contains("通用风险模型") && text.contains("sha256:"));
    assert!(
        text.contains("base points") && text.contains("total") && text.contains("general class")
    );
    // One line per variable of the general model.
    assert!(
        text.lines()
            .filter(|l| l.contains('[') || l.contains('{'))
            .count()
            >= 35
    );

    let out = tidewatch()
        .args(["explain", "9144030071526726XG", "--seeds"])
        .arg(&seeds)
        .arg("--pipelines")
        .arg(repo().join("pipelines"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "an unknown entity is an error");
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(err.contains("not a registered entity"), "{err}");
}

#[test]
fn a_malformed_model_is_refused_with_file_and_line() {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path().join("bad.toml");
    std::fs::write(
        &p,
        "[model]\nid = \"x\"\n\n[[variable]]\nfeature = \"age_days\"\nbins = [\n  { range = \"[-inf, 10)\", points = 1 },\n  { range = \"[20, inf)\", points = 2 },\n]\n",
    )
    .expect("write");
    let out = tidewatch()
        .args(["model", "check"])
        .arg(&p)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        err.contains("bad.toml:4:") && err.contains("gap between 10 and 20"),
        "{err}"
    );
}
