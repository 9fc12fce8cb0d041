//! A whole policy over a population: every field's model, the overrides and
//! the general × specialized combination, giving the class each entity has
//! in each field it is covered by.
//!
//! The same function serves the batch (the whole population) and the
//! incremental path (a micro-batch of changed entities gathered into a
//! smaller frame): a row's result depends only on that row.

use polars::prelude::*;
use tidewatch_model::Domain;

use crate::kernel::{BindError, Bound, Scores, Want};
use crate::model::Class;
use crate::policy::Policy;

/// One field's results.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldEval {
    pub domain: Domain,
    pub model_version: String,
    /// Whether each row is in the field (always true for `general`).
    pub covered: Vec<bool>,
    /// The field model's own scores (for every row, covered or not).
    pub scores: Scores,
    /// The class used for the field: for `general`, the model's class
    /// raised by overrides; for a specialized field, the combination of the
    /// general and the specialized class (both raised by overrides), raised
    /// by overrides again. `None` where the row is not covered.
    pub class: Vec<Option<Class>>,
}

/// The policy applied to a population.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The general field first, then the specialized ones.
    pub fields: Vec<FieldEval>,
    /// Per row, the override that set the floor (index into
    /// `Policy::overrides`), if any.
    pub override_applied: Vec<Option<u16>>,
}

impl Evaluation {
    pub fn field(&self, d: Domain) -> Option<&FieldEval> {
        self.fields.iter().find(|f| f.domain == d)
    }
}

/// A row's class floor from the overrides, and which override set it.
pub type Floor = (Option<Class>, Option<u16>);

/// Per-row class floor from the overrides.
pub fn floors(policy: &Policy, df: &DataFrame) -> Result<Vec<Floor>, PolarsError> {
    let n = df.height();
    let mut out = vec![(None, None); n];
    for (oi, o) in policy.overrides.iter().enumerate() {
        let cols = o
            .conditions
            .iter()
            .map(|c| {
                df.column(&c.feature)
                    .map_err(|_| {
                        polars_err!(ColumnNotFound: "{}: override at line {} reads {:?}, which the table does not have", policy.source, o.line, c.feature)
                    })
                    .and_then(|s| s.as_materialized_series().cast(&DataType::Int64))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cas = cols
            .iter()
            .map(|s| s.i64())
            .collect::<Result<Vec<_>, _>>()?;
        for (row, slot) in out.iter_mut().enumerate() {
            let hit = o
                .conditions
                .iter()
                .zip(&cas)
                .all(|(c, ca)| ca.get(row).is_some_and(|x| c.op.test(x, c.value)));
            if hit && slot.0.is_none_or(|f| o.at_least > f) {
                *slot = (Some(o.at_least), Some(oi as u16));
            }
        }
    }
    Ok(out)
}

/// Scores every field and derives the classes. `coverage[i]` is the
/// coverage mask of `policy.fields[i]` (ignored for `general`).
pub fn evaluate(
    policy: &Policy,
    df: &DataFrame,
    coverage: &[Vec<bool>],
    want: Want,
) -> Result<Evaluation, BindError> {
    let n = df.height();
    let floor = floors(policy, df)?;
    let raise = |c: Class, row: usize| floor[row].0.map_or(c, |f| c.max(f));
    let mut fields = Vec::with_capacity(policy.fields.len());
    let mut general: Vec<Class> = Vec::new();
    for (fi, f) in policy.fields.iter().enumerate() {
        let scores = Bound::new(&f.model, df)?.score(want);
        let own: Vec<Class> = (0..n)
            .map(|r| raise(scores.class_of(r).unwrap_or(Class::D), r))
            .collect();
        let (covered, class) = if f.domain == Domain::General {
            general = own.clone();
            (vec![true; n], own.into_iter().map(Some).collect())
        } else {
            let covered = coverage.get(fi).cloned().unwrap_or_else(|| vec![false; n]);
            let class = (0..n)
                .map(|r| covered[r].then(|| raise(policy.combine(general[r], own[r]), r)))
                .collect();
            (covered, class)
        };
        fields.push(FieldEval {
            domain: f.domain,
            model_version: f.model.version.clone(),
            covered,
            scores,
            class,
        });
    }
    Ok(Evaluation {
        fields,
        override_applied: floor.into_iter().map(|f| f.1).collect(),
    })
}
