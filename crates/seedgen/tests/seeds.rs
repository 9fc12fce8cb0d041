//! Properties of generated data sets: determinism, validity against the
//! model, realism checks and the documented bad records.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::error::Category;
use tidewatch_model::event::{Complaint, CreditRecord, Inspection};
use tidewatch_model::{validate, CreditBody, Event, Officer, RejectReason, Uscc};
use tidewatch_seedgen::{generate_to_dir, generate_to_dir_with_threads, SeedConfig, FILES};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p =
            std::env::temp_dir().join(format!("tidewatch-seedgen-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).expect("generated file")
}

fn lines(dir: &Path, f: &str) -> Vec<String> {
    String::from_utf8(read(dir, f))
        .expect("UTF-8 file")
        .lines()
        .map(str::to_string)
        .collect()
}

fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(dir, "meta.json")).expect("meta.json")
}

fn cfg(entities: u64) -> SeedConfig {
    SeedConfig {
        entities,
        ..SeedConfig::default()
    }
}

/// The ingest's classification of decode errors (see DESIGN.md).
fn decode_reason(family: &str, line: &str) -> Option<RejectReason> {
    let err = match family {
        "inspections.ndjson" => serde_json::from_str::<Inspection>(line).err(),
        "complaints.ndjson" => serde_json::from_str::<Complaint>(line).err(),
        _ => serde_json::from_str::<CreditRecord>(line).err(),
    }?;
    let msg = err.to_string();
    Some(match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => RejectReason::MalformedJson,
        Category::Data if msg.starts_with("missing field") => RejectReason::MissingField,
        Category::Data if msg.starts_with("unknown variant") => RejectReason::UnknownEnum,
        Category::Data if msg.starts_with("invalid USCC") => RejectReason::InvalidUscc,
        Category::Data => RejectReason::InvalidValue,
    })
}

fn decode(family: &str, line: &str) -> Event {
    match family {
        "inspections.ndjson" => {
            Event::Inspection(serde_json::from_str(line).expect("inspection decodes"))
        }
        "complaints.ndjson" => {
            Event::Complaint(serde_json::from_str(line).expect("complaint decodes"))
        }
        _ => Event::Credit(serde_json::from_str(line).expect("credit record decodes")),
    }
}

#[test]
fn same_config_same_bytes_whatever_the_threads() {
    let a = TempDir::new("det-a");
    let b = TempDir::new("det-b");
    let c = cfg(2500); // three chunks
    let sa = generate_to_dir_with_threads(&c, &a.0, 1).expect("generate");
    let sb = generate_to_dir_with_threads(&c, &b.0, 2).expect("generate");
    assert_eq!(sa, sb);
    for f in FILES.iter().chain(["meta.json"].iter()) {
        assert!(read(&a.0, f) == read(&b.0, f), "{f} differs");
    }
    // A different seed gives different data.
    let d = TempDir::new("det-d");
    let other = SeedConfig {
        seed: 7,
        ..c.clone()
    };
    generate_to_dir(&other, &d.0).expect("generate");
    assert!(read(&a.0, FILES[2]) != read(&d.0, FILES[2]));
}

#[test]
fn good_lines_decode_validate_and_are_consistent() {
    let dir = TempDir::new("valid");
    let c = cfg(3000);
    let stats = generate_to_dir(&c, &dir.0).expect("generate");
    let m = meta(&dir.0);
    assert_eq!(m["as_of"], "2026-09-30");
    let bad_lines: HashSet<(String, u64)> = m["bad_records"]
        .as_array()
        .expect("bad_records")
        .iter()
        .map(|b| {
            (
                b["file"].as_str().expect("file").to_string(),
                b["line"].as_u64().expect("line"),
            )
        })
        .chain(std::iter::once((
            FILES[0].to_string(),
            m["exact_duplicate"]["line"].as_u64().expect("dup line"),
        )))
        .collect();

    // Registrations first: every entity once, valid, unique USCC.
    let mut established: HashMap<Uscc, NaiveDate> = HashMap::new();
    let mut reps: HashMap<String, u32> = HashMap::new();
    let mut per_family: HashMap<&str, u64> = HashMap::new();
    for f in &FILES[..3] {
        let mut ids = HashSet::new();
        let mut last_id = String::new();
        for (i, l) in lines(&dir.0, f).iter().enumerate() {
            if bad_lines.contains(&(f.to_string(), i as u64 + 1)) {
                continue;
            }
            let e = decode(f, l);
            validate(&e, c.as_of).unwrap_or_else(|r| panic!("{f}:{}: {r}: {l}", i + 1));
            assert!(e.occurred_on() <= c.as_of);
            assert!(ids.insert(e.event_id().to_string()), "{f}: duplicate id");
            assert!(e.event_id() > last_id.as_str(), "{f}: ids not increasing");
            last_id = e.event_id().to_string();
            *per_family.entry(f).or_default() += 1;
            if let Some(r) = e.registration() {
                assert!(
                    established.insert(e.uscc(), r.established_on).is_none(),
                    "USCC registered twice"
                );
                assert_eq!(r.established_on, e.occurred_on());
                assert_eq!(e.domain(), tidewatch_model::Domain::General);
                *reps.entry(r.legal_rep_key.clone()).or_default() += 1;
            }
        }
    }
    assert_eq!(established.len() as u64, c.entities);
    assert_eq!(per_family["inspections.ndjson"], stats.inspections);
    assert_eq!(per_family["complaints.ndjson"], stats.complaints);
    assert_eq!(per_family["credit-records.ndjson"], stats.credit_records);
    for u in established.keys() {
        assert_eq!(Uscc::parse(u.as_str()), Ok(*u));
        assert_eq!(u.authority(), '9');
    }

    // Every event is of a registered entity, within its life and the window.
    let window = c.window_start();
    let mut docs = HashSet::new();
    let mut penalty_docs = HashSet::new();
    let mut refs = Vec::new();
    for f in &FILES[..3] {
        for (i, l) in lines(&dir.0, f).iter().enumerate() {
            if bad_lines.contains(&(f.to_string(), i as u64 + 1)) {
                continue;
            }
            let e = decode(f, l);
            let est = established
                .get(&e.uscc())
                .unwrap_or_else(|| panic!("{f}:{}: unregistered entity", i + 1));
            assert!(e.occurred_on() >= *est, "{f}:{}: before established", i + 1);
            if e.registration().is_none() {
                assert!(e.occurred_on() > window, "{f}:{}: before window", i + 1);
            }
            match &e {
                Event::Inspection(x) => {
                    if x.inspection_type == tidewatch_model::codes::InspectionType::DoubleRandom {
                        assert!(x.plan_id.is_some());
                        assert_eq!(x.inspector_ids.len(), 2);
                        assert_ne!(x.inspector_ids[0], x.inspector_ids[1]);
                    }
                    if x.inspection_type == tidewatch_model::codes::InspectionType::ProductSampling
                    {
                        assert!(x.sampling.is_some());
                    }
                }
                Event::Credit(x) => match &x.body {
                    CreditBody::Penalty(p) => {
                        assert!(docs.insert(p.document_no.clone()), "document_no reused");
                        assert!(p.document_no.starts_with("舟市监罚〔"));
                        penalty_docs.insert(p.document_no.clone());
                    }
                    CreditBody::PenaltyWithdrawn(p) => refs.push(p.document_no.clone()),
                    CreditBody::CreditRepaired(p) => refs.extend(p.document_no.clone()),
                    _ => {}
                },
                Event::Complaint(_) => {}
            }
        }
    }
    for r in refs {
        assert!(penalty_docs.contains(&r), "reference to unknown {r}");
    }

    // Shared legal representatives: about one in ten holds 2-6 entities.
    let multi = reps.values().filter(|&&n| n > 1).count();
    assert!(reps.values().all(|&n| (1..=6).contains(&n)));
    let share = multi as f64 / reps.len() as f64;
    assert!((0.05..0.2).contains(&share), "multi-holder share {share}");

    // Plausible volumes for the default size.
    let total = stats.inspections + stats.complaints + stats.credit_records;
    assert!((20_000..60_000).contains(&total), "{total} events");

    // Officers.
    let officers: Vec<Officer> = lines(&dir.0, FILES[3])
        .iter()
        .map(|l| serde_json::from_str(l).expect("officer decodes"))
        .collect();
    assert!(officers.len() >= 60);
    assert_eq!(officers.len() as u64, stats.officers);
    let mut with_conflicts = 0;
    for o in &officers {
        assert!(!o.qualifications.is_empty());
        assert!((20..=80).contains(&o.capacity));
        assert!(o.officer_id.starts_with("ZS-"));
        for u in &o.conflicts {
            assert!(established.contains_key(u), "conflict with unknown entity");
        }
        with_conflicts += usize::from(!o.conflicts.is_empty());
    }
    assert!(with_conflicts > 0);
    for d in tidewatch_model::Domain::ALL {
        let n = officers
            .iter()
            .filter(|o| o.qualifications.contains(d))
            .count();
        assert!(n >= 10, "{d}: only {n} officers");
    }
}

#[test]
fn bad_records_have_the_documented_shapes() {
    let dir = TempDir::new("bad");
    let c = cfg(2000);
    let stats = generate_to_dir(&c, &dir.0).expect("generate");
    let m = meta(&dir.0);
    let bad = m["bad_records"].as_array().expect("bad_records");
    assert_eq!(bad.len(), 8);
    assert_eq!(stats.bad_records, 8);
    let registered: HashSet<String> = lines(&dir.0, FILES[2])
        .iter()
        .filter_map(|l| serde_json::from_str::<CreditRecord>(l).ok())
        .filter(|r| matches!(r.body, CreditBody::Registered(_)))
        .map(|r| r.uscc.to_string())
        .collect();
    let mut reasons = HashSet::new();
    for b in bad {
        let file = b["file"].as_str().expect("file");
        let line_no = b["line"].as_u64().expect("line") as usize;
        let id = b["event_id"].as_str().expect("event_id");
        let reason = b["reason"].as_str().expect("reason");
        reasons.insert(reason.to_string());
        let all = lines(&dir.0, file);
        let l = &all[line_no - 1];
        assert!(l.contains(id), "{file}:{line_no} lacks {id}");
        let got = match decode_reason(file, l) {
            Some(r) => r,
            None => {
                let e = decode(file, l);
                match validate(&e, c.as_of) {
                    Err(r) => r.reason,
                    Ok(()) if !registered.contains(e.uscc().as_str()) => {
                        RejectReason::UnknownEntity
                    }
                    Ok(()) => {
                        // Same event id earlier in the file, other content.
                        let earlier = all[..line_no - 1]
                            .iter()
                            .find(|x| x.contains(&format!("\"event_id\":\"{id}\"")))
                            .expect("an earlier record with the same event_id");
                        assert_ne!(earlier, l);
                        assert_eq!(decode(file, earlier).event_id(), id);
                        RejectReason::ConflictingDuplicate
                    }
                }
            }
        };
        assert_eq!(got.code(), reason, "{file}:{line_no}: {l}");
        if reason != "conflicting_duplicate" {
            assert!(id.starts_with("bad-"));
        }
    }
    let expected: HashSet<String> = [
        "invalid_uscc",
        "negative_amount",
        "unknown_enum",
        "malformed_json",
        "conflicting_duplicate",
        "future_date",
        "unknown_entity",
        "missing_field",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(reasons, expected);

    // The exact duplicate repeats an earlier inspection byte for byte.
    let insp = lines(&dir.0, FILES[0]);
    let dup_id = m["exact_duplicate_event_id"].as_str().expect("dup id");
    let dup_line = m["exact_duplicate"]["line"].as_u64().expect("line") as usize;
    assert_eq!(dup_line, insp.len());
    let first = insp
        .iter()
        .position(|l| l.contains(&format!("\"event_id\":\"{dup_id}\"")))
        .expect("original");
    assert!(first + 1 < dup_line);
    assert_eq!(insp[first], insp[dup_line - 1]);
    assert!(!dup_id.starts_with("bad-"));
}

#[test]
fn no_bad_records_when_disabled_and_tiny_sizes_work() {
    let dir = TempDir::new("clean");
    let c = SeedConfig {
        bad_records: false,
        ..cfg(300)
    };
    let s = generate_to_dir(&c, &dir.0).expect("generate");
    assert_eq!(s.bad_records, 0);
    for f in &FILES[..3] {
        for l in lines(&dir.0, f) {
            assert!(!l.contains("bad-"));
            assert!(decode_reason(f, &l).is_none());
        }
    }
    for n in [0, 1, 5] {
        let d = TempDir::new(&format!("tiny-{n}"));
        let s = generate_to_dir(&cfg(n), &d.0).expect("generate");
        assert_eq!(s.entities, n);
        assert_eq!(s.officers, 60);
        let m = meta(&d.0);
        assert_eq!(m["entities"], n);
    }
}

#[test]
fn committed_seeds_are_reproducible() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../seeds");
    if !seeds.join("meta.json").exists() {
        return;
    }
    let dir = TempDir::new("committed");
    generate_to_dir(&SeedConfig::default(), &dir.0).expect("generate");
    for f in FILES.iter().chain(["meta.json"].iter()) {
        assert!(
            read(&dir.0, f) == read(&seeds, f),
            "seeds/{f} is not what the generator gives for the default configuration; \
             regenerate with `cargo run --release -p tidewatch-seedgen --example seedgen_rate` \
             from the workspace root"
        );
    }
}
