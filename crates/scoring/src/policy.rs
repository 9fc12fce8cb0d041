//! What sits above single scorecards: which entities a specialized field
//! covers, hard overrides, and the general × specialized combination matrix.
//! All of it is data (`pipelines/policy.toml`), checked at load with the
//! file and line of any mistake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tidewatch_model::codes::Licence;
use tidewatch_model::{Domain, IndustryCode};
use toml::Spanned;

use crate::model::{line_of, read_text, Class, Model, ModelError};

/// A comparison in an override condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Ge,
    Gt,
    Le,
    Lt,
}

impl Op {
    pub fn test(self, x: i64, y: i64) -> bool {
        match self {
            Op::Eq => x == y,
            Op::Ne => x != y,
            Op::Ge => x >= y,
            Op::Gt => x > y,
            Op::Le => x <= y,
            Op::Lt => x < y,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
        }
    }
}

/// `feature op value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub feature: String,
    pub op: Op,
    pub value: i64,
}

/// Raises the class of every covered field to at least `at_least` when all
/// conditions hold. Overrides never lower a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub conditions: Vec<Condition>,
    pub at_least: Class,
    pub reason: String,
    pub line: usize,
}

impl Override {
    pub fn matches(&self, get: impl Fn(&str) -> Option<i64>) -> bool {
        self.conditions
            .iter()
            .all(|c| get(&c.feature).is_some_and(|x| c.op.test(x, c.value)))
    }
}

/// One field: its model and which entities it covers.
#[derive(Debug, Clone)]
pub struct Field {
    pub domain: Domain,
    pub model: Model,
    pub licences: Vec<Licence>,
    /// GB/T 4754 prefixes (`C13` covers `C1361`).
    pub industries: Vec<String>,
}

impl Field {
    /// Whether an entity with these licences and industry is in the field.
    /// The general field covers everyone.
    pub fn covers(&self, licences: &[Licence], industry: Option<&IndustryCode>) -> bool {
        self.domain == Domain::General
            || licences.iter().any(|l| self.licences.contains(l))
            || industry.is_some_and(|i| self.industries.iter().any(|p| i.starts_with(p)))
    }
}

/// The whole scoring policy: the general field first, then the specialized
/// ones in file order.
#[derive(Debug, Clone)]
pub struct Policy {
    pub fields: Vec<Field>,
    pub overrides: Vec<Override>,
    /// `combination[general][specialized]`.
    pub combination: [[Class; 4]; 4],
    pub source: String,
    /// SHA-256 of the policy file and of every model version it uses (first
    /// 16 hex characters): changes whenever anything that decides a score
    /// or a class changes.
    pub digest: String,
}

impl Policy {
    /// Loads `policy.toml` and the models it names (paths relative to it).
    pub fn load(path: &Path) -> Result<Policy, ModelError> {
        let (file, text) = read_text(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Policy::parse(&text, &file, &dir)
    }

    pub fn parse(text: &str, file: &str, dir: &Path) -> Result<Policy, ModelError> {
        let at = |offset: usize, message: String| ModelError {
            file: file.to_owned(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                e.message().trim().to_owned(),
            )
        })?;
        let mut fields = Vec::new();
        for (name, f) in raw.field {
            let span = f.span();
            let f = f.into_inner();
            let domain = Domain::from_code(&name).ok_or_else(|| {
                at(span.start, format!("[field.{name}]: not a field (general, food, special_equipment, industrial_product, construction)"))
            })?;
            let model_path: PathBuf = dir.join(&f.model);
            let model = Model::load(&model_path)?;
            if model.field != domain {
                return Err(at(
                    span.start,
                    format!(
                        "[field.{name}]: model {} is for field {}",
                        model_path.display(),
                        model.field
                    ),
                ));
            }
            if model.classes.is_none() {
                return Err(at(
                    span.start,
                    format!(
                        "[field.{name}]: model {} has no [classes] cut-offs",
                        model_path.display()
                    ),
                ));
            }
            let mut licences = Vec::new();
            for l in f.licences {
                licences.push(Licence::from_code(&l).ok_or_else(|| {
                    at(span.start, format!("[field.{name}]: unknown licence {l:?}"))
                })?);
            }
            fields.push(Field {
                domain,
                model,
                licences,
                industries: f.industries,
            });
        }
        // The general field comes first; then the specialized ones in their
        // canonical order, so outputs have a stable column order.
        fields.sort_by_key(|f| f.domain);
        if fields.first().map(|f| f.domain) != Some(Domain::General) {
            return Err(at(
                0,
                "the policy needs a [field.general] with the general model".into(),
            ));
        }
        let mut overrides = Vec::new();
        for o in raw.r#override {
            let span = o.span();
            let o = o.into_inner();
            let conditions = o
                .when
                .split(" and ")
                .map(parse_condition)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| at(span.start, m))?;
            let at_least = Class::parse(&o.at_least).map_err(|_| {
                at(
                    span.start,
                    format!("at_least {:?} is not a class A-D", o.at_least),
                )
            })?;
            overrides.push(Override {
                conditions,
                at_least,
                reason: o.reason,
                line: at(span.start, String::new()).line,
            });
        }
        let span = raw.combination.span();
        let c = raw.combination.into_inner();
        let mut combination = [[Class::A; 4]; 4];
        for (g, row) in [c.a, c.b, c.c, c.d].iter().enumerate() {
            if row.len() != 4 {
                return Err(at(
                    span.start,
                    "each combination row lists four classes (specialized A, B, C, D)".into(),
                ));
            }
            for (s, cell) in row.iter().enumerate() {
                combination[g][s] = Class::parse(cell).map_err(|_| {
                    at(
                        span.start,
                        format!("combination: {cell:?} is not a class A-D"),
                    )
                })?;
            }
        }
        let mut h = Sha256::new();
        h.update(text.as_bytes());
        for f in &fields {
            h.update(b"\0");
            h.update(f.domain.as_str().as_bytes());
            h.update(b"=");
            h.update(f.model.version.as_bytes());
        }
        let digest = hex::encode(&h.finalize()[..8]);
        Ok(Policy {
            fields,
            overrides,
            combination,
            source: file.to_owned(),
            digest,
        })
    }

    /// The class used for a field, from the general and specialized classes.
    pub fn combine(&self, general: Class, specialized: Class) -> Class {
        self.combination[general.index()][specialized.index()]
    }

    /// Model versions by field, for outputs.
    pub fn versions(&self) -> BTreeMap<&'static str, String> {
        self.fields
            .iter()
            .map(|f| (f.domain.as_str(), f.model.version.clone()))
            .collect()
    }
}

fn parse_condition(s: &str) -> Result<Condition, String> {
    let t: Vec<&str> = s.split_whitespace().collect();
    let [feature, op, value] = t.as_slice() else {
        return Err(format!(
            "condition {s:?} must read `feature op number`, e.g. `serious_listed == 1`"
        ));
    };
    let op = match *op {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        ">=" => Op::Ge,
        ">" => Op::Gt,
        "<=" => Op::Le,
        "<" => Op::Lt,
        o => {
            return Err(format!(
                "condition {s:?}: {o:?} is not one of == != >= > <= <"
            ))
        }
    };
    let value = value
        .parse()
        .map_err(|_| format!("condition {s:?}: {value:?} is not an integer"))?;
    Ok(Condition {
        feature: (*feature).to_owned(),
        op,
        value,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    field: BTreeMap<String, Spanned<RawField>>,
    #[serde(default)]
    r#override: Vec<Spanned<RawOverride>>,
    combination: Spanned<RawCombination>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    model: String,
    #[serde(default)]
    licences: Vec<String>,
    #[serde(default)]
    industries: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    when: String,
    at_least: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCombination {
    #[serde(rename = "A")]
    a: Vec<String>,
    #[serde(rename = "B")]
    b: Vec<String>,
    #[serde(rename = "C")]
    c: Vec<String>,
    #[serde(rename = "D")]
    d: Vec<String>,
}
