//! Double-random draws end to end through the `tidewatch` binary, on the
//! committed seeds: the default draw of `tidewatch run`, then commit → run →
//! verify → replace → verify → status, byte-identical outputs, tampering
//! pinpointed, inputs frozen by the commitment, refusals and shortfalls.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn food_plan() -> PathBuf {
    repo().join("pipelines/draws/food-2026Q4.toml")
}

const FOOD: &str = "ZS-2026Q4-food";
const RANDOMNESS: &str = "03 17 22 28 31 35 + 09";

fn tidewatch(args: &[&str], out: &Path) -> Output {
    tidewatch_with(args, out, &repo().join("seeds"))
}

/// Runs a subcommand with --out/--seeds/--pipelines set (for `draw`
/// subcommands other than verify).
fn tidewatch_with(args: &[&str], out: &Path, seeds: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tidewatch"));
    c.args(args)
        .arg("--out")
        .arg(out)
        .arg("--seeds")
        .arg(seeds)
        .arg("--pipelines")
        .arg(repo().join("pipelines"));
    c.output().expect("runs")
}

fn verify_cmd(manifest: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidewatch"))
        .args(["draw", "verify"])
        .arg(manifest)
        .output()
        .expect("runs")
}

fn ok(o: &Output) -> String {
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "failed ({:?}): {}\n{stdout}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

/// The exit code and stderr of a command that must fail.
fn refused(o: &Output) -> (i32, String) {
    assert!(
        !o.status.success(),
        "expected a refusal: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A scored output directory: `tidewatch run` on the seeds.
fn scored() -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tmp");
    ok(&tidewatch(&["run"], out.path()));
    out
}

fn json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Commits and draws a food plan (of id [`FOOD`]); returns its directory.
fn commit_and_run(out: &Path, plan: &Path, randomness: &str) -> PathBuf {
    let p = plan.to_str().expect("utf-8 path");
    ok(&tidewatch(&["draw", "commit", p], out));
    ok(&tidewatch(
        &["draw", "run", p, "--randomness", randomness],
        out,
    ));
    out.join("draws").join(FOOD)
}

const OUTPUTS: [&str; 10] = [
    "plan.json",
    "population.csv",
    "roster.json",
    "history.json",
    "commitment.json",
    "manifest.json",
    "list.xlsx",
    "list.csv",
    "list.json",
    "publication.csv",
];

#[test]
fn the_run_makes_a_default_draw_that_verifies() {
    let out = tempfile::tempdir().expect("tmp");
    let stdout = ok(&tidewatch(&["run"], out.path()));
    assert!(
        stdout.contains("default draw embedded-run-general"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tidewatch-embedded-run-fixed-randomness-1"),
        "the fixed randomness is said: {stdout}"
    );
    let dir = out.path().join("draws/embedded-run-general");
    for f in OUTPUTS {
        assert!(dir.join(f).is_file(), "{f} written");
    }
    let m = json(&dir.join("manifest.json"));
    assert_eq!(m["algorithm"], "tidewatch-draw/2");
    assert_eq!(m["plan"]["as_of"], "2026-09-30");
    assert!(m["chosen"].as_array().is_some_and(|c| !c.is_empty()));
    let v = ok(&verify_cmd(&dir.join("manifest.json")));
    assert!(v.starts_with("match"), "{v}");
    // Every chosen entity has a class for the field, and the strata only
    // hold classes.
    for c in m["chosen"].as_array().into_iter().flatten() {
        assert!(matches!(c["class"].as_str(), Some("A" | "B" | "C" | "D")));
    }
    // A second run rewrites the same draw.
    let before = std::fs::read(dir.join("manifest.json")).expect("manifest");
    ok(&tidewatch(&["run"], out.path()));
    assert_eq!(
        std::fs::read(dir.join("manifest.json")).expect("manifest"),
        before
    );
}

#[test]
fn commit_run_verify_replace_verify_status() {
    let out = scored();
    let plan = food_plan();
    let p = plan.to_str().expect("utf-8");

    let stdout = ok(&tidewatch(&["draw", "preview", p], out.path()));
    assert!(stdout.contains("total to draw"), "{stdout}");
    assert!(
        !out.path().join("draws").join(FOOD).exists(),
        "preview writes nothing"
    );

    let stdout = ok(&tidewatch(&["draw", "commit", p], out.path()));
    let dir = out.path().join("draws").join(FOOD);
    let c = json(&dir.join("commitment.json"));
    for key in [
        "plan_digest",
        "population_digest",
        "roster_digest",
        "history_digest",
        "commitment_digest",
    ] {
        let d = c[key].as_str().expect("digest");
        assert_eq!(d.len(), 64);
        assert!(stdout.contains(d), "commit prints {key}");
    }
    assert!(
        !dir.join("manifest.json").exists(),
        "nothing drawn at commit"
    );

    let stdout = ok(&tidewatch(
        &["draw", "run", p, "--randomness", RANDOMNESS],
        out.path(),
    ));
    assert!(stdout.contains("result"), "{stdout}");
    let manifest = dir.join("manifest.json");
    let m = json(&manifest);
    assert_eq!(m["randomness"], RANDOMNESS);
    for key in [
        "plan_digest",
        "population_digest",
        "roster_digest",
        "history_digest",
    ] {
        assert_eq!(m[key], c[key], "{key} as committed");
    }
    assert!(ok(&verify_cmd(&manifest)).starts_with("match"));

    // Replace the first chosen entity: the next of its stratum comes in.
    let first = m["chosen"][0]["uscc"].as_str().expect("uscc").to_owned();
    let stratum = m["chosen"][0]["stratum"]
        .as_str()
        .expect("stratum")
        .to_owned();
    let stdout = ok(&tidewatch(
        &["draw", "replace", FOOD, &first, "--reason", "7 已关闭停业"],
        out.path(),
    ));
    assert!(stdout.contains(&first), "{stdout}");
    let m2 = json(&manifest);
    let r = &m2["replacements"][0];
    assert_eq!(r["replaced"], first.as_str());
    assert_eq!(r["stratum"], stratum.as_str());
    let new = r["replacement"].as_str().expect("a replacement");
    let last = m2["chosen"]
        .as_array()
        .and_then(|c| c.last())
        .expect("last");
    assert_eq!(last["uscc"], new);
    assert_eq!(last["replaces"], first.as_str());
    assert_ne!(m2["result_digest"], m["result_digest"]);
    assert!(ok(&verify_cmd(&manifest)).starts_with("match"));
    let list = std::fs::read_to_string(dir.join("list.csv")).expect("list");
    let on_list = |u: &str| list.lines().any(|l| l.split(',').nth(1) == Some(u));
    assert!(!on_list(&first), "the replaced entity left the list");
    assert!(on_list(new));

    // Results come back with the plan id.
    let seeds = tempfile::tempdir().expect("tmp");
    let mut insp = std::fs::read_to_string(repo().join("seeds/inspections.ndjson")).expect("seeds");
    let second = m2["chosen"][1]["uscc"].as_str().expect("uscc");
    insp.push_str(&format!(
        "{{\"event_id\":\"q4-1\",\"uscc\":\"{second}\",\"occurred_on\":\"2026-10-20\",\"domain\":\"food\",\"inspection_type\":\"double_random\",\"result\":\"E\",\"plan_id\":\"{FOOD}\"}}\n"
    ));
    insp.push_str(&format!(
        "{{\"event_id\":\"q4-2\",\"uscc\":\"{first}\",\"occurred_on\":\"2026-10-20\",\"domain\":\"food\",\"inspection_type\":\"double_random\",\"result\":\"7\",\"plan_id\":\"{FOOD}\"}}\n"
    ));
    let path = seeds.path().join("inspections.ndjson");
    std::fs::write(&path, insp).expect("write");
    let stdout = ok(&tidewatch(
        &[
            "draw",
            "status",
            FOOD,
            "--inspections",
            path.to_str().expect("utf-8"),
        ],
        out.path(),
    ));
    let n = m2["chosen"].as_array().map_or(0, Vec::len);
    assert!(
        stdout.contains(&format!("{n} chosen, 1 with results, {} pending", n - 1)),
        "{stdout}"
    );
    assert!(stdout.contains("result E 发现问题经责令已改正"), "{stdout}");
    assert!(
        stdout.contains(&format!("{first} (replaced: 7 已关闭停业)")),
        "a result for the replaced entity is named: {stdout}"
    );
}

#[test]
fn same_inputs_give_byte_identical_outputs() {
    let a = scored();
    let b = scored();
    let da = commit_and_run(a.path(), &food_plan(), RANDOMNESS);
    let db = commit_and_run(b.path(), &food_plan(), RANDOMNESS);
    for f in OUTPUTS {
        assert_eq!(
            std::fs::read(da.join(f)).expect("a"),
            std::fs::read(db.join(f)).expect("b"),
            "{f} differs between two runs on the same inputs"
        );
    }
}

/// A copy of a draw directory, to tamper with.
fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("tmp");
    for f in OUTPUTS {
        std::fs::copy(from.join(f), to.path().join(f)).expect("copy");
    }
    to
}

fn mismatch(dir: &Path) -> String {
    let o = verify_cmd(&dir.join("manifest.json"));
    assert_eq!(o.status.code(), Some(1), "verify must fail");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn one_changed_input_changes_the_result_and_verify_pinpoints_it() {
    let out = scored();
    let dir = commit_and_run(out.path(), &food_plan(), RANDOMNESS);
    let m = json(&dir.join("manifest.json"));
    let digest = m["result_digest"].as_str().expect("digest").to_owned();

    // One randomness byte: another result; a manifest claiming it is caught
    // at the seed.
    let other = scored();
    let changed = RANDOMNESS.replace("09", "08");
    let d2 = commit_and_run(other.path(), &food_plan(), &changed);
    assert_ne!(
        json(&d2.join("manifest.json"))["result_digest"],
        digest.as_str()
    );
    let t = copy_dir(&dir);
    let mut forged = m.clone();
    forged["randomness"] = Value::from(changed);
    std::fs::write(t.path().join("manifest.json"), forged.to_string()).expect("write");
    let s = mismatch(t.path());
    assert!(s.contains("seed"), "{s}");

    // One entity's row in the published snapshot: named by its USCC.
    let t = copy_dir(&dir);
    let chosen = m["chosen"][3]["uscc"].as_str().expect("uscc");
    let csv = std::fs::read_to_string(t.path().join("population.csv")).expect("csv");
    let csv = csv
        .lines()
        .map(|l| {
            if l.starts_with(chosen) {
                l.replacen(',', ",改", 1)
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(t.path().join("population.csv"), csv).expect("write");
    let s = mismatch(t.path());
    assert!(s.contains("population digest") && s.contains(chosen), "{s}");

    // One plan field.
    let t = copy_dir(&dir);
    let plan = std::fs::read_to_string(t.path().join("plan.json")).expect("plan");
    std::fs::write(
        t.path().join("plan.json"),
        plan.replace("\"team_size\":2", "\"team_size\":3"),
    )
    .expect("write");
    let s = mismatch(t.path());
    assert!(s.contains("team_size"), "{s}");

    // The roster: caught against the commitment first.
    let t = copy_dir(&dir);
    let roster = std::fs::read_to_string(t.path().join("roster.json")).expect("roster");
    std::fs::write(
        t.path().join("roster.json"),
        roster.replacen("\"capacity\":", "\"capacity\":1", 1),
    )
    .expect("write");
    let s = mismatch(t.path());
    assert!(s.contains("roster_digest"), "{s}");

    // A changed plan field drawn for real gives another result.
    let plan_dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(food_plan()).expect("plan");
    let p3 = plan_dir.path().join("food.toml");
    std::fs::write(&p3, format!("{text}team_size = 3\n")).expect("write");
    let third = scored();
    let d3 = commit_and_run(third.path(), &p3, RANDOMNESS);
    assert_ne!(
        json(&d3.join("manifest.json"))["result_digest"],
        digest.as_str()
    );
}

#[test]
fn the_commitment_freezes_the_inputs() {
    let out = scored();
    let plan = food_plan();
    let p = plan.to_str().expect("utf-8");
    ok(&tidewatch(&["draw", "commit", p], out.path()));
    let dir = out.path().join("draws").join(FOOD);

    // Committing again with the same inputs changes nothing.
    let s = ok(&tidewatch(&["draw", "commit", p], out.path()));
    assert!(s.contains("unchanged"), "{s}");

    // A roster adjusted after the commitment: a new commit is refused...
    let seeds = tempfile::tempdir().expect("tmp");
    let roster = std::fs::read_to_string(repo().join("seeds/officers.ndjson")).expect("roster");
    std::fs::write(
        seeds.path().join("officers.ndjson"),
        roster.replacen("\"capacity\":", "\"capacity\":1", 1),
    )
    .expect("write");
    std::fs::copy(
        repo().join("seeds/inspections.ndjson"),
        seeds.path().join("inspections.ndjson"),
    )
    .expect("copy");
    let (code, err) = refused(&tidewatch_with(
        &["draw", "commit", p],
        out.path(),
        seeds.path(),
    ));
    assert_eq!(code, 2);
    assert!(
        err.contains("already committed") && err.contains("roster_digest"),
        "{err}"
    );
    // ... and the draw uses the committed roster, saying the current one changed.
    let s = ok(&tidewatch_with(
        &["draw", "run", p, "--randomness", RANDOMNESS],
        out.path(),
        seeds.path(),
    ));
    assert!(s.contains("changed since the commitment"), "{s}");
    let m = json(&dir.join("manifest.json"));
    let c = json(&dir.join("commitment.json"));
    assert_eq!(m["roster_digest"], c["roster_digest"]);

    // A plan is drawn once: another randomness is refused.
    let (_, err) = refused(&tidewatch(
        &["draw", "run", p, "--randomness", "another value"],
        out.path(),
    ));
    assert!(err.contains("already drawn"), "{err}");

    // A snapshot file edited after the commitment stops the draw.
    let other = scored();
    ok(&tidewatch(&["draw", "commit", p], other.path()));
    let d = other.path().join("draws").join(FOOD);
    let r = std::fs::read_to_string(d.join("roster.json")).expect("roster");
    std::fs::write(
        d.join("roster.json"),
        r.replacen("\"capacity\":", "\"capacity\":9", 1),
    )
    .expect("write");
    let (_, err) = refused(&tidewatch(
        &["draw", "run", p, "--randomness", RANDOMNESS],
        other.path(),
    ));
    assert!(
        err.contains("roster.json no longer matches the committed roster_digest"),
        "{err}"
    );

    // A plan file changed after the commitment is refused, naming the field.
    let plan_dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(food_plan()).expect("plan");
    let p2 = plan_dir.path().join("food.toml");
    std::fs::write(&p2, format!("{text}recusal_months = 6\n")).expect("write");
    let fresh = scored();
    ok(&tidewatch(&["draw", "commit", p], fresh.path()));
    let (_, err) = refused(&tidewatch(
        &[
            "draw",
            "run",
            p2.to_str().expect("utf-8"),
            "--randomness",
            RANDOMNESS,
        ],
        fresh.path(),
    ));
    assert!(err.contains("`recusal_months`"), "{err}");
}

#[test]
fn invalid_plans_are_refused_with_clear_messages() {
    let out = scored();
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("team_size = 1\n", "at least 2 officers"),
        (
            "sampling = { A = { ratio = \"1.5\" } }\n",
            "must lie between 0 and 1",
        ),
        ("sampling = { A = { ratio = 0.05 } }\n", "sampling"),
        ("teams = 3\n", "unknown field `teams`"),
        ("regions = [\"33090\"]\n", "six digits"),
        ("industries = [\"c13\"]\n", "GB/T 4754"),
        (
            "as_of = \"2026-06-30\"\n",
            "tidewatch run --as-of 2026-06-30",
        ),
        ("randomness_source = \"\"\n", "randomness_source"),
    ];
    for (i, (extra, want)) in cases.iter().enumerate() {
        let mut text = String::from("id = \"bad\"\nfield = \"general\"\n");
        if !extra.starts_with("randomness_source") {
            text.push_str("randomness_source = \"lottery\"\n");
        }
        text.push_str(extra);
        let p = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, text).expect("write");
        let (code, err) = refused(&tidewatch(
            &["draw", "commit", p.to_str().expect("utf-8")],
            out.path(),
        ));
        assert_eq!(code, 2, "{extra}");
        assert!(err.contains(want), "{extra}: {err}");
    }
    let (_, err) = refused(&tidewatch(&["draw", "preview", "no-such-plan"], out.path()));
    assert!(err.contains("neither a plan file nor"), "{err}");
    // No scores yet: say what to run.
    let empty = tempfile::tempdir().expect("tmp");
    let (_, err) = refused(&tidewatch(
        &["draw", "commit", food_plan().to_str().expect("utf-8")],
        empty.path(),
    ));
    assert!(err.contains("tidewatch run"), "{err}");
}

#[test]
fn understaffing_is_reported_not_hidden() {
    let out = scored();
    let seeds = tempfile::tempdir().expect("tmp");
    // Three food officers for one district, one inspection each.
    let roster: String = (1..=3)
        .map(|i| {
            format!(
                "{{\"officer_id\":\"ZS-9{i:03}\",\"name\":\"检查员{i}\",\"unit\":\"330902\",\"qualifications\":[\"food\"],\"conflicts\":[],\"capacity\":1}}\n"
            )
        })
        .collect();
    std::fs::write(seeds.path().join("officers.ndjson"), roster).expect("write");
    let p = food_plan();
    let p = p.to_str().expect("utf-8");
    let preview = ok(&tidewatch_with(
        &["draw", "preview", p],
        out.path(),
        seeds.path(),
    ));
    assert!(preview.contains("SHORT"), "{preview}");
    ok(&tidewatch_with(
        &["draw", "commit", p],
        out.path(),
        seeds.path(),
    ));
    let s = ok(&tidewatch_with(
        &["draw", "run", p, "--randomness", RANDOMNESS],
        out.path(),
        seeds.path(),
    ));
    assert!(s.contains("could not be given a full team"), "{s}");
    let dir = out.path().join("draws").join(FOOD);
    let m = json(&dir.join("manifest.json"));
    let chosen = m["chosen"].as_array().map_or(0, Vec::len);
    let unstaffed = m["unstaffed"].as_array().expect("unstaffed");
    // One team of two at most can be formed from three single-capacity officers.
    let staffed = m["chosen"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["officers"].as_array().is_some_and(|o| !o.is_empty()))
        .count();
    assert_eq!(staffed, 1);
    assert_eq!(unstaffed.len(), chosen - 1);
    for u in unstaffed {
        let s = &u["shortfall"];
        let total: u64 = [
            "eligible",
            "not_qualified",
            "other_unit",
            "conflict",
            "recused",
            "at_capacity",
        ]
        .iter()
        .map(|k| s[*k].as_u64().expect("count"))
        .sum();
        assert_eq!(total, 3, "every officer counted once: {s}");
    }
    let list = std::fs::read_to_string(dir.join("list.csv")).expect("list");
    assert_eq!(list.matches("未配齐检查人员").count(), chosen - 1);
    assert!(ok(&verify_cmd(&dir.join("manifest.json"))).starts_with("match"));
}

#[test]
fn a_long_list_continues_on_new_sheets() {
    let out = scored();
    let p = food_plan();
    let p = p.to_str().expect("utf-8");
    ok(&tidewatch(&["draw", "commit", p], out.path()));
    let s = ok(&tidewatch(
        &[
            "draw",
            "run",
            p,
            "--randomness",
            RANDOMNESS,
            "--sheet-rows",
            "11",
        ],
        out.path(),
    ));
    let dir = out.path().join("draws").join(FOOD);
    let n = json(&dir.join("manifest.json"))["chosen"]
        .as_array()
        .map_or(0, Vec::len);
    let sheets = n.div_ceil(10);
    assert!(sheets > 1);
    assert!(s.contains(&format!("list.xlsx: {sheets} sheets")), "{s}");
    // Entry names in a zip archive are stored as they are.
    let bytes = std::fs::read(dir.join("list.xlsx")).expect("xlsx");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&format!("xl/worksheets/sheet{sheets}.xml")));
    assert!(!text.contains(&format!("xl/worksheets/sheet{}.xml", sheets + 1)));
    // The publication carries no class.
    let publication = std::fs::read_to_string(dir.join("publication.csv")).expect("publication");
    assert_eq!(publication.lines().count(), n + 1);
    assert!(!publication.contains(",A,") && !publication.contains(",D,"));
}
