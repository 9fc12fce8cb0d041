//! The fast scoring path: one pass per block of rows over all variables,
//! reading the polars columns' buffers directly.
//!
//! polars stays the data layer (frames in, frames out, Parquet and CSV); this
//! module only replaces the per-variable `when/then` chains of the expression
//! path ([`crate::expr`]) with branch-free arithmetic on the column buffers:
//! a numeric bin lookup is `first + Σ (x ≥ edge_k) · delta_k`, which the
//! compiler turns into compares and conditional adds without branches. Both
//! paths give identical points (a property test pins that).

use polars::prelude::*;
use rayon::prelude::*;

use crate::model::{BinKind, Class, Direction, End, Input, Model, Value, Variable};
use crate::points::{Points, ONE};

/// Rows per block: the block's accumulators stay in L1.
const BLOCK: usize = 1024;

/// Size of the direct lookup tables for small integer values.
const SMALL: usize = 64;

/// Marks "no bin" in a lookup table.
const NO_BIN: Points = Points::MIN;

/// Why a model cannot be applied to a table.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("model {model}: variable {var:?} (line {line}) needs column {column:?}, which the table does not have")]
    MissingColumn {
        model: String,
        var: String,
        line: usize,
        column: String,
    },
    #[error("model {model}: variable {var:?} (line {line}): column {column:?} has type {dtype}, which {why}")]
    WrongType {
        model: String,
        var: String,
        line: usize,
        column: String,
        dtype: String,
        why: &'static str,
    },
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// A variable's column, ready for the kernel (single chunk).
#[derive(Debug, Clone)]
enum Data {
    I64(Int64Chunked),
    F64(Float64Chunked),
    Str(StringChunked),
    /// `a / b` over integer columns, computed block by block (no copy).
    RatioI64(Int64Chunked, Int64Chunked),
    /// `a + b + …` (or `a - b`, with the signs) over integer columns,
    /// computed block by block.
    SumI64(Vec<(Int64Chunked, i64)>),
    /// Points already looked up at bind time (string categories), with
    /// `NO_BIN` where no bin takes the value.
    Pre(Int64Chunked),
}

/// How a variable turns a value into points.
#[derive(Debug, Clone)]
enum Rule {
    /// Numeric bins over integers: edges rounded up, since for an integer x,
    /// x ≥ e ⇔ x ≥ ⌈e⌉.
    IntRange {
        first: Points,
        edges: Vec<i64>,
        deltas: Vec<Points>,
        /// Points of x for 0 ≤ x < 64, when every edge lies in 1..=64
        /// (counts and flags): one load instead of a compare per edge.
        small: Option<Box<[Points; SMALL]>>,
    },
    /// Numeric bins over floats.
    FloatRange {
        first: Points,
        edges: Vec<f64>,
        deltas: Vec<Points>,
    },
    /// Value sets over integers (small sets: a linear scan is fastest).
    IntValues {
        table: Vec<(i64, Points)>,
        other: Option<Points>,
        /// Points of x for 0 ≤ x < 64 (`NO_BIN` where no bin takes it).
        small: Box<[Points; SMALL]>,
    },
    /// Points precomputed at bind time.
    Pre,
    /// Value sets over strings.
    StrValues {
        table: PlHashMap<String, Points>,
        other: Option<Points>,
    },
}

/// A variable bound to its column.
#[derive(Debug, Clone)]
struct BoundVar {
    data: Data,
    rule: Rule,
    /// Points for a missing value; `None`: a missing value has no bin.
    missing: Option<Points>,
}

/// A model bound to a table: columns checked and prepared once, scored many
/// times (the incremental path binds a gathered micro-batch the same way).
#[derive(Debug, Clone)]
pub struct Bound<'m> {
    pub model: &'m Model,
    vars: Vec<BoundVar>,
    rows: usize,
    risk: RiskMap,
}

/// Exact `clamp(round_half_away(intercept + slope × total), 0, 1000)` in
/// integer arithmetic, for the hot loop.
#[derive(Debug, Clone, Copy)]
struct RiskMap {
    /// intercept × 10^(4+s), slope × 10^s, and 10^(4+s).
    intercept: i128,
    slope: i128,
    denom: i128,
}

impl RiskMap {
    fn new(m: &Model) -> RiskMap {
        let s = m.scale.intercept.scale().max(m.scale.slope.scale());
        let pow = |n: u32| 10i128.pow(n);
        let mant = |d: rust_decimal::Decimal| d.mantissa() * pow(s - d.scale());
        RiskMap {
            intercept: mant(m.scale.intercept) * ONE as i128,
            slope: mant(m.scale.slope),
            denom: pow(s) * ONE as i128,
        }
    }

    #[inline]
    fn apply(&self, total: Points) -> i64 {
        // Integer intercept and slope (every committed model): i64 maths
        // and a division by a constant, unless the total is absurdly large.
        if self.denom == ONE as i128 && total.unsigned_abs() < 1 << 40 {
            let num = self.intercept as i64 + self.slope as i64 * total;
            let q = (2 * num.abs() + ONE) / (2 * ONE);
            let r = if num < 0 { -q } else { q };
            return r.clamp(0, 1000);
        }
        let num = self.intercept + self.slope * total as i128;
        // Round half away from zero.
        let q = (2 * num.abs() + self.denom) / (2 * self.denom);
        let r = if num < 0 { -q } else { q };
        r.clamp(0, 1000) as i64
    }
}

/// One top reason: the variable's index in the model and its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    pub var: u16,
    pub points: Points,
}

impl Reason {
    pub const NONE: Reason = Reason {
        var: u16::MAX,
        points: 0,
    };

    pub fn is_none(&self) -> bool {
        self.var == u16::MAX
    }
}

/// What to compute besides the totals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    /// Points of every variable (`points[var][row]`).
    pub points: bool,
    /// The top-3 reasons per row.
    pub reasons: bool,
}

/// Scores of a table under one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Base points + the variables' points (fixed-point, see [`crate::points`]).
    pub total: Vec<Points>,
    /// Rows where a variable found no bin for its value (e.g. a missing value
    /// and no missing bin): their total is not a score. `None`: every row scored.
    pub unscored: Option<Vec<bool>>,
    /// Risk score 0–1000.
    pub risk: Vec<i16>,
    /// Class index (A = 0 … D = 3) by the model's cut-offs; empty when the
    /// model has none.
    pub class: Vec<u8>,
    pub points: Option<Vec<Vec<Points>>>,
    pub reasons: Option<Vec<[Reason; 3]>>,
}

impl Scores {
    pub fn len(&self) -> usize {
        self.total.len()
    }

    pub fn is_empty(&self) -> bool {
        self.total.is_empty()
    }

    pub fn class_of(&self, row: usize) -> Option<Class> {
        self.class.get(row).map(|&c| Class::from_index(c))
    }

    pub fn is_scored(&self, row: usize) -> bool {
        self.unscored.as_ref().is_none_or(|u| !u[row])
    }
}

fn series<'a>(
    df: &'a DataFrame,
    m: &Model,
    v: &Variable,
    name: &str,
) -> Result<&'a Series, BindError> {
    df.column(name)
        .map(|c| c.as_materialized_series())
        .map_err(|_| BindError::MissingColumn {
            model: m.id.clone(),
            var: v.name.clone(),
            line: v.line,
            column: name.to_owned(),
        })
}

fn wrong(m: &Model, v: &Variable, column: &str, dtype: &DataType, why: &'static str) -> BindError {
    BindError::WrongType {
        model: m.id.clone(),
        var: v.name.clone(),
        line: v.line,
        column: column.to_owned(),
        dtype: dtype.to_string(),
        why,
    }
}

fn int_column(
    df: &DataFrame,
    m: &Model,
    v: &Variable,
    name: &str,
) -> Result<Int64Chunked, BindError> {
    let s = series(df, m, v, name)?;
    let dt = s.dtype();
    if !(dt.is_integer() || dt.is_bool()) {
        return Err(wrong(m, v, name, dt, "is not an integer column"));
    }
    Ok(as_i64(s)?)
}

/// An integer or boolean series as one Int64 chunk.
fn as_i64(s: &Series) -> PolarsResult<Int64Chunked> {
    Ok(s.cast(&DataType::Int64)?.i64()?.rechunk().into_owned())
}

fn numeric_column(df: &DataFrame, m: &Model, v: &Variable, name: &str) -> Result<Data, BindError> {
    let s = series(df, m, v, name)?;
    let dt = s.dtype();
    if dt.is_integer() || dt.is_bool() {
        Ok(Data::I64(as_i64(s)?))
    } else if dt.is_float() {
        Ok(Data::F64(
            s.cast(&DataType::Float64)?.f64()?.rechunk().into_owned(),
        ))
    } else {
        Err(wrong(
            m,
            v,
            name,
            dt,
            "is not numeric, but the variable has numeric bins",
        ))
    }
}

/// Materialises a derived input (`a / b`, `a + b`, `a - b`).
fn derived(df: &DataFrame, m: &Model, v: &Variable) -> Result<Data, BindError> {
    match &v.input {
        Input::Column(c) => {
            if v.is_categorical() {
                let s = series(df, m, v, c)?;
                let dt = s.dtype();
                if dt.is_integer() || dt.is_bool() {
                    Ok(Data::I64(as_i64(s)?))
                } else if dt.is_string() {
                    // No rechunk: strings are turned into points chunk by
                    // chunk at bind time (see `string_points`).
                    Ok(Data::Str(s.str()?.clone()))
                } else if dt.is_categorical() || dt.is_enum() {
                    Ok(Data::Str(
                        s.cast(&DataType::String)?.str()?.rechunk().into_owned(),
                    ))
                } else {
                    Err(wrong(
                        m,
                        v,
                        c,
                        dt,
                        "cannot hold categorical values (integers or strings)",
                    ))
                }
            } else {
                numeric_column(df, m, v, c)
            }
        }
        Input::Ratio(a, b) => {
            let (a, b) = (numeric_column(df, m, v, a)?, numeric_column(df, m, v, b)?);
            if let (Data::I64(a), Data::I64(b)) = (&a, &b) {
                return Ok(Data::RatioI64(a.clone(), b.clone()));
            }
            // Missing (NaN) where either side is missing or the divisor is 0.
            let (a, b) = (as_f64(&a), as_f64(&b));
            let out: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| {
                    if y != 0.0 && !y.is_nan() {
                        x / y
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            Ok(Data::F64(Float64Chunked::from_vec(
                v.name.as_str().into(),
                out,
            )))
        }
        Input::Sum(cols) => Ok(Data::SumI64(
            cols.iter()
                .map(|c| int_column(df, m, v, c).map(|ca| (ca, 1)))
                .collect::<Result<_, _>>()?,
        )),
        Input::Diff(a, b) => Ok(Data::SumI64(vec![
            (int_column(df, m, v, a)?, 1),
            (int_column(df, m, v, b)?, -1),
        ])),
    }
}

/// A numeric column as floats, NaN where missing.
fn as_f64(d: &Data) -> Vec<f64> {
    match d {
        Data::I64(c) => {
            let arr = c.downcast_as_array();
            let mut out: Vec<f64> = arr.values().iter().map(|&x| x as f64).collect();
            if let Some(valid) = arr.validity() {
                for (i, o) in out.iter_mut().enumerate() {
                    if !valid.get_bit(i) {
                        *o = f64::NAN;
                    }
                }
            }
            out
        }
        Data::F64(c) => {
            let arr = c.downcast_as_array();
            let mut out = arr.values().as_slice().to_vec();
            if let Some(valid) = arr.validity() {
                for (i, o) in out.iter_mut().enumerate() {
                    if !valid.get_bit(i) {
                        *o = f64::NAN;
                    }
                }
            }
            out
        }
        Data::Str(c) => vec![f64::NAN; c.len()],
        Data::RatioI64(a, _) => vec![f64::NAN; a.len()],
        Data::SumI64(cs) => vec![f64::NAN; cs.first().map_or(0, |c| c.0.len())],
        Data::Pre(c) => vec![f64::NAN; c.len()],
    }
}

/// Turns sorted `[lo, hi)` bins into the first bin's points and, per inner
/// edge, the change in points when a value reaches it.
fn ranges(v: &Variable) -> (Points, Vec<f64>, Vec<Points>) {
    let mut r: Vec<(f64, Points)> = v
        .bins
        .iter()
        .filter_map(|b| match b.kind {
            BinKind::Range { lo, .. } => Some((
                match lo {
                    End::NegInf => f64::NEG_INFINITY,
                    End::At(x) => x,
                    End::PosInf => f64::INFINITY,
                },
                b.points,
            )),
            _ => None,
        })
        .collect();
    r.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first = r.first().map_or(0, |x| x.1);
    let edges = r.iter().skip(1).map(|x| x.0).collect();
    let deltas = r.windows(2).map(|w| w[1].1 - w[0].1).collect();
    (first, edges, deltas)
}

impl<'m> Bound<'m> {
    /// Binds `model` to `df`: every variable's column must exist with a
    /// usable type.
    pub fn new(model: &'m Model, df: &DataFrame) -> Result<Bound<'m>, BindError> {
        let mut vars = Vec::with_capacity(model.variables.len());
        for v in &model.variables {
            let data = derived(df, model, v)?;
            let missing = v.missing_bin().map(|b| b.points);
            let other = v
                .bins
                .iter()
                .find(|b| b.kind == BinKind::Else)
                .map(|b| b.points);
            let rule = if v.is_categorical() {
                let values = v.bins.iter().filter_map(|b| match &b.kind {
                    BinKind::Values(vs) => Some(vs.iter().map(move |x| (x, b.points))),
                    _ => None,
                });
                match &data {
                    Data::I64(_) => {
                        let mut table = Vec::new();
                        for (x, p) in values.flatten() {
                            match x {
                                Value::Int(i) => table.push((*i, p)),
                                Value::Str(s) => match s.parse::<i64>() {
                                    Ok(i) => table.push((i, p)),
                                    Err(_) => {
                                        return Err(wrong(
                                            model,
                                            v,
                                            &v.input.to_string(),
                                            &DataType::Int64,
                                            "holds integers but the bins list strings",
                                        ))
                                    }
                                },
                            }
                        }
                        let mut small = Box::new([other.unwrap_or(NO_BIN); SMALL]);
                        for (x, p) in &table {
                            if (0..SMALL as i64).contains(x) {
                                small[*x as usize] = *p;
                            }
                        }
                        Rule::IntValues {
                            table,
                            other,
                            small,
                        }
                    }
                    _ => {
                        let table = values.flatten().map(|(x, p)| (x.to_string(), p)).collect();
                        Rule::StrValues { table, other }
                    }
                }
            } else {
                let (first, edges, deltas) = ranges(v);
                match &data {
                    Data::I64(_) | Data::SumI64(_) => {
                        // ⌈e⌉, saturating: an edge beyond i64 is never reached.
                        let edges: Vec<i64> = edges
                            .iter()
                            .map(|e| e.ceil().clamp(-9.2e18, 9.2e18) as i64)
                            .collect();
                        let small =
                            edges
                                .iter()
                                .all(|e| (1..=SMALL as i64).contains(e))
                                .then(|| {
                                    let mut t = Box::new([0 as Points; SMALL]);
                                    let xs: Vec<i64> = (0..SMALL as i64).collect();
                                    int_ranges(&xs, first, &edges, &deltas, &mut t[..]);
                                    t
                                });
                        Rule::IntRange {
                            first,
                            edges,
                            deltas,
                            small,
                        }
                    }
                    _ => Rule::FloatRange {
                        first,
                        edges,
                        deltas,
                    },
                }
            };
            // String categories become points now, once per distinct view.
            let (data, rule) = match (data, rule) {
                (Data::Str(c), Rule::StrValues { table, other }) => (
                    Data::Pre(string_points(&c, &table, other, missing)),
                    Rule::Pre,
                ),
                x => x,
            };
            vars.push(BoundVar {
                data,
                rule,
                missing,
            });
        }
        Ok(Bound {
            model,
            vars,
            rows: df.height(),
            risk: RiskMap::new(model),
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Scores every row, in parallel over blocks.
    pub fn score(&self, want: Want) -> Scores {
        let n = self.rows;
        let nv = self.vars.len();
        let mut total = vec![0 as Points; n];
        let mut unscored = vec![false; n];
        let mut risk = vec![0i16; n];
        let has_classes = self.model.classes.is_some();
        let mut class = if has_classes {
            vec![0u8; n]
        } else {
            Vec::new()
        };
        let mut points: Vec<Vec<Points>> = if want.points {
            vec![vec![0; n]; nv]
        } else {
            Vec::new()
        };
        let mut reasons = if want.reasons {
            vec![[Reason::NONE; 3]; n]
        } else {
            Vec::new()
        };

        // Split the outputs into per-block pieces so blocks run in parallel
        // without sharing anything mutable.
        let mut point_blocks: Vec<Vec<&mut [Points]>> = (0..n.div_ceil(BLOCK))
            .map(|_| Vec::with_capacity(nv))
            .collect();
        for col in points.iter_mut() {
            for (b, chunk) in col.chunks_mut(BLOCK).enumerate() {
                point_blocks[b].push(chunk);
            }
        }
        let mut reason_blocks: Vec<Option<&mut [[Reason; 3]]>> =
            (0..n.div_ceil(BLOCK)).map(|_| None).collect();
        for (b, chunk) in reasons.chunks_mut(BLOCK).enumerate() {
            reason_blocks[b] = Some(chunk);
        }
        let mut class_blocks: Vec<Option<&mut [u8]>> =
            (0..n.div_ceil(BLOCK)).map(|_| None).collect();
        for (b, chunk) in class.chunks_mut(BLOCK).enumerate() {
            class_blocks[b] = Some(chunk);
        }

        total
            .par_chunks_mut(BLOCK)
            .zip(unscored.par_chunks_mut(BLOCK))
            .zip(risk.par_chunks_mut(BLOCK))
            .zip(class_blocks.par_iter_mut())
            .zip(point_blocks.par_iter_mut())
            .zip(reason_blocks.par_iter_mut())
            .enumerate()
            .for_each(|(b, (((((tot, uns), rsk), cls), pts), rea))| {
                let start = b * BLOCK;
                self.score_block(start, tot, uns, pts, rea.as_deref_mut());
                for (r, t) in rsk.iter_mut().zip(tot.iter()) {
                    *r = self.risk.apply(*t) as i16;
                }
                if let (Some(c), Some(cut)) = (cls.as_deref_mut(), self.model.classes) {
                    for (c, r) in c.iter_mut().zip(rsk.iter()) {
                        *c = cut.class(i64::from(*r)) as u8;
                    }
                }
            });
        let any_unscored = unscored.iter().any(|&u| u);
        Scores {
            total,
            unscored: any_unscored.then_some(unscored),
            risk,
            class,
            points: want.points.then_some(points),
            reasons: want.reasons.then_some(reasons),
        }
    }

    fn score_block(
        &self,
        start: usize,
        total: &mut [Points],
        unscored: &mut [bool],
        points: &mut [&mut [Points]],
        reasons: Option<&mut [[Reason; 3]]>,
    ) {
        let len = total.len();
        total.fill(self.model.base_points);
        let mut scratch = [0 as Points; BLOCK];
        let risk = self.model.direction == Direction::Risk;
        // Each row's top three as the variables go by, struct-of-arrays:
        // keys (points on a risk card, minus points on a credit card) and
        // variable indexes. On a risk card the keys start at 0, so only
        // positive points enter; ties keep the earlier variable (strict >).
        let floor = if risk { 0 } else { Points::MIN };
        let mut k = [[floor; BLOCK]; 3];
        let mut w = [[u16::MAX; BLOCK]; 3];
        let want_reasons = reasons.is_some();
        for (vi, v) in self.vars.iter().enumerate() {
            let out = &mut scratch[..len];
            v.points(start, out, unscored);
            for (t, p) in total.iter_mut().zip(out.iter()) {
                *t += *p;
            }
            if let Some(col) = points.get_mut(vi) {
                col.copy_from_slice(out);
            }
            if want_reasons {
                let vi = vi as u16;
                for (i, &p) in out.iter().enumerate() {
                    let key = if risk { p } else { p.saturating_neg() };
                    if key > k[2][i] {
                        if key > k[0][i] {
                            (k[2][i], w[2][i]) = (k[1][i], w[1][i]);
                            (k[1][i], w[1][i]) = (k[0][i], w[0][i]);
                            (k[0][i], w[0][i]) = (key, vi);
                        } else if key > k[1][i] {
                            (k[2][i], w[2][i]) = (k[1][i], w[1][i]);
                            (k[1][i], w[1][i]) = (key, vi);
                        } else {
                            (k[2][i], w[2][i]) = (key, vi);
                        }
                    }
                }
            }
        }
        if let Some(rs) = reasons {
            for (i, r) in rs.iter_mut().enumerate() {
                for j in 0..3 {
                    r[j] = if w[j][i] == u16::MAX {
                        Reason::NONE
                    } else {
                        Reason {
                            var: w[j][i],
                            points: if risk { k[j][i] } else { -k[j][i] },
                        }
                    };
                }
            }
        }
    }
}

/// Offers variable `var` with `p` points to a row's top three (the
/// reference the block loop's struct-of-arrays version is tested against).
#[cfg(test)]
fn offer(top: &mut [Reason; 3], var: u16, p: Points, risk: bool) {
    let key = if risk { p } else { -p };
    let better = |r: &Reason| r.is_none() || key > if risk { r.points } else { -r.points };
    if better(&top[2]) {
        let cand = Reason { var, points: p };
        if better(&top[0]) {
            *top = [cand, top[0], top[1]];
        } else if better(&top[1]) {
            *top = [top[0], cand, top[1]];
        } else {
            top[2] = cand;
        }
    }
}

/// The three variables that pushed a row most towards risk: on a risk card
/// the most points (only positive ones: a variable giving no points added no
/// risk), on a credit card the fewest; ties go to the earlier variable.
#[cfg(test)]
fn top3(points: impl Iterator<Item = Points>, risk: bool) -> [Reason; 3] {
    let mut top = [Reason::NONE; 3];
    for (i, p) in points.enumerate() {
        if risk && p <= 0 {
            continue;
        }
        offer(&mut top, i as u16, p, risk);
    }
    top
}

impl BoundVar {
    /// Writes the points of rows `start..start + out.len()` into `out`;
    /// marks rows whose value has no bin.
    fn points(&self, start: usize, out: &mut [Points], unscored: &mut [bool]) {
        let end = start + out.len();
        match (&self.data, &self.rule) {
            (
                Data::I64(c),
                Rule::IntRange {
                    first,
                    edges,
                    deltas,
                    small,
                },
            ) => {
                let arr = c.downcast_as_array();
                let x = &arr.values().as_slice()[start..end];
                int_range_points(x, *first, edges, deltas, small.as_deref(), out);
                if let Some(valid) = arr.validity().filter(|v| v.unset_bits() > 0) {
                    self.patch_missing(|i| valid.get_bit(i), start, out, unscored);
                }
            }
            (
                Data::SumI64(cols),
                Rule::IntRange {
                    first,
                    edges,
                    deltas,
                    small,
                },
            ) => {
                let mut x = [0i64; BLOCK];
                let x = &mut x[..out.len()];
                let mut any_null = false;
                for (c, sign) in cols {
                    let arr = c.downcast_as_array();
                    for (s, &v) in x.iter_mut().zip(&arr.values().as_slice()[start..end]) {
                        *s += sign * v;
                    }
                    any_null |= arr.validity().is_some_and(|v| v.unset_bits() > 0);
                }
                int_range_points(x, *first, edges, deltas, small.as_deref(), out);
                if any_null {
                    let valid = |i: usize| {
                        cols.iter().all(|(c, _)| {
                            c.downcast_as_array()
                                .validity()
                                .is_none_or(|v| v.get_bit(i))
                        })
                    };
                    self.patch_missing(valid, start, out, unscored);
                }
            }
            (
                Data::F64(c),
                Rule::FloatRange {
                    first,
                    edges,
                    deltas,
                },
            ) => {
                let arr = c.downcast_as_array();
                let x = &arr.values().as_slice()[start..end];
                let valid = arr.validity();
                let present = |i: usize| valid.is_none_or(|b| b.get_bit(start + i));
                self.float_points(x, present, *first, edges, deltas, out, unscored);
            }
            (
                Data::RatioI64(a, b),
                Rule::FloatRange {
                    first,
                    edges,
                    deltas,
                },
            ) => {
                let (a, b) = (a.downcast_as_array(), b.downcast_as_array());
                let (xa, xb) = (
                    &a.values().as_slice()[start..end],
                    &b.values().as_slice()[start..end],
                );
                let mut x = [0f64; BLOCK];
                let x = &mut x[..out.len()];
                for ((r, &p), &q) in x.iter_mut().zip(xa).zip(xb) {
                    *r = if q != 0 {
                        p as f64 / q as f64
                    } else {
                        f64::NAN
                    };
                }
                let (va, vb) = (a.validity(), b.validity());
                let present = |i: usize| {
                    va.is_none_or(|v| v.get_bit(start + i))
                        && vb.is_none_or(|v| v.get_bit(start + i))
                };
                self.float_points(x, present, *first, edges, deltas, out, unscored);
            }
            (
                Data::I64(c),
                Rule::IntValues {
                    table,
                    other,
                    small,
                },
            ) => {
                let arr = c.downcast_as_array();
                let x = &arr.values().as_slice()[start..end];
                for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
                    let hit = if (v as u64) < SMALL as u64 {
                        Some(small[v as usize]).filter(|&p| p != NO_BIN)
                    } else {
                        table
                            .iter()
                            .find(|(k, _)| *k == v)
                            .map(|(_, p)| *p)
                            .or(*other)
                    };
                    put(o, &mut unscored[i], hit);
                }
                if let Some(valid) = arr.validity().filter(|v| v.unset_bits() > 0) {
                    self.patch_missing(|i| valid.get_bit(i), start, out, unscored);
                }
            }
            (Data::Pre(c), Rule::Pre) => {
                let x = &c.downcast_as_array().values().as_slice()[start..end];
                for (i, (o, &p)) in out.iter_mut().zip(x).enumerate() {
                    put(o, &mut unscored[i], Some(p).filter(|&p| p != NO_BIN));
                }
            }
            // Bind pairs every data kind with its rule (strings become
            // `Pre`); other pairs cannot occur.
            _ => {
                out.fill(0);
                unscored.iter_mut().for_each(|u| *u = true);
            }
        }
    }

    /// Points of float values over numeric bins; NaN or absent is missing.
    #[allow(clippy::too_many_arguments)]
    fn float_points(
        &self,
        x: &[f64],
        present: impl Fn(usize) -> bool,
        first: Points,
        edges: &[f64],
        deltas: &[Points],
        out: &mut [Points],
        unscored: &mut [bool],
    ) {
        for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            if v.is_nan() || !present(i) {
                put(o, &mut unscored[i], self.missing);
                continue;
            }
            let mut p = first;
            for (e, d) in edges.iter().zip(deltas) {
                p += if v >= *e { *d } else { 0 };
            }
            *o = p;
        }
    }

    /// Overwrites null rows with the missing bin's points, or marks them.
    fn patch_missing(
        &self,
        is_valid: impl Fn(usize) -> bool,
        start: usize,
        out: &mut [Points],
        unscored: &mut [bool],
    ) {
        for (i, o) in out.iter_mut().enumerate() {
            if !is_valid(start + i) {
                put(o, &mut unscored[i], self.missing);
            }
        }
    }
}

// The arrow `Array` trait is not re-exported; its methods are reachable
// through the `StaticArray` bound.
fn nulls<A: StaticArray>(a: &A) -> usize {
    a.null_count()
}

fn valid_at<A: StaticArray>(a: &A, i: usize) -> bool {
    a.is_valid(i)
}

/// The low 64 bits of a string's 16-byte view: its length and first four
/// bytes (zero-padded), the same for inline and buffered strings.
fn view_key(s: &str) -> u64 {
    let mut prefix = [0u8; 4];
    let b = s.as_bytes();
    let k = b.len().min(4);
    prefix[..k].copy_from_slice(&b[..k]);
    (b.len() as u64 & 0xffff_ffff) | (u64::from(u32::from_le_bytes(prefix)) << 32)
}

/// Rows per parallel task when turning strings into points.
const STR_TASK: usize = 1 << 16;

/// Points of every row of a string column, in parallel over row ranges.
///
/// Bins list a handful of categories, so instead of hashing every row's
/// string, each row's view key (length and first four bytes, already in
/// the view) picks the candidates, and one short compare confirms.
fn string_points(
    c: &StringChunked,
    table: &PlHashMap<String, Points>,
    other: Option<Points>,
    missing: Option<Points>,
) -> Int64Chunked {
    let cands: Vec<(u64, &str, Points)> = table
        .iter()
        .map(|(s, p)| (view_key(s), s.as_str(), *p))
        .collect();
    let unknown = other.unwrap_or(NO_BIN);
    let absent = missing.unwrap_or(NO_BIN);
    let mut all = vec![0 as Points; c.len()];
    let mut tasks: Vec<(&_, usize, &mut [Points])> = Vec::new();
    let mut rest: &mut [Points] = &mut all;
    for arr in c.downcast_iter() {
        let mut off = 0;
        while off < arr.len() {
            let len = STR_TASK.min(arr.len() - off);
            let (head, tail) = rest.split_at_mut(len);
            tasks.push((arr, off, head));
            rest = tail;
            off += len;
        }
    }
    tasks.into_par_iter().for_each(|(arr, off, out)| {
        let views = arr.views();
        let has_nulls = nulls(arr) > 0;
        for (j, o) in out.iter_mut().enumerate() {
            let i = off + j;
            if has_nulls && !valid_at(arr, i) {
                *o = absent;
                continue;
            }
            let key = views[i].as_u128() as u64;
            let mut p = unknown;
            for (k, s, pts) in &cands {
                if *k == key && arr.value(i) == *s {
                    p = *pts;
                    break;
                }
            }
            *o = p;
        }
    });
    Int64Chunked::from_vec(c.name().clone(), all)
}

/// Writes a bin's points, or 0 and marks the row unscored when no bin took
/// the value.
#[inline]
fn put(o: &mut Points, unscored: &mut bool, p: Option<Points>) {
    match p {
        Some(p) => *o = p,
        None => {
            *o = 0;
            *unscored = true;
        }
    }
}

/// Points of integer values over numeric bins: the lookup table for small
/// values when there is one, else the compare-and-add form.
fn int_range_points(
    x: &[i64],
    first: Points,
    edges: &[i64],
    deltas: &[Points],
    small: Option<&[Points; SMALL]>,
    out: &mut [Points],
) {
    match small {
        Some(t) => {
            // Beyond the table every edge (all in 1..=64) is passed, or, for
            // a negative value, none is.
            let last = first + deltas.iter().sum::<Points>();
            for (o, &v) in out.iter_mut().zip(x) {
                *o = if (v as u64) < SMALL as u64 {
                    t[v as usize]
                } else if v < 0 {
                    first
                } else {
                    last
                };
            }
        }
        None => int_ranges(x, first, edges, deltas, out),
    }
}

/// `out[i] = first + Σ_k (x[i] ≥ edges[k]) · deltas[k]`, specialised for
/// small edge counts so the inner loop unrolls and the outer one vectorises.
fn int_ranges(x: &[i64], first: Points, edges: &[i64], deltas: &[Points], out: &mut [Points]) {
    macro_rules! fixed {
        ($k:literal) => {{
            let e: [i64; $k] = edges.try_into().unwrap_or([i64::MAX; $k]);
            let d: [Points; $k] = deltas.try_into().unwrap_or([0; $k]);
            for (o, &v) in out.iter_mut().zip(x) {
                let mut p = first;
                for k in 0..$k {
                    p += if v >= e[k] { d[k] } else { 0 };
                }
                *o = p;
            }
        }};
    }
    match edges.len() {
        0 => out.fill(first),
        1 => fixed!(1),
        2 => fixed!(2),
        3 => fixed!(3),
        4 => fixed!(4),
        5 => fixed!(5),
        6 => fixed!(6),
        _ => {
            for (o, &v) in out.iter_mut().zip(x) {
                let mut p = first;
                for (e, d) in edges.iter().zip(deltas) {
                    p += if v >= *e { *d } else { 0 };
                }
                *o = p;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_map_matches_decimal_arithmetic() {
        let text = |i: &str, s: &str| {
            format!(
                "[model]\nid = \"t\"\ndirection = \"credit\"\n[scale]\nintercept = {i}\nslope = {s}\n[[variable]]\nfeature = \"x\"\nbins = [{{ range = \"[-inf, inf)\", points = 0 }}]\n"
            )
        };
        for (i, s) in [("1000", "-1"), ("1200.5", "-1.25"), ("900", "-0.5")] {
            let m = Model::parse(&text(i, s), "t").expect("valid");
            let r = RiskMap::new(&m);
            for total in [
                -5_000_000i64,
                0,
                1,
                4_999,
                5_000,
                5_001,
                2_000_000,
                8_500_000,
                12_345_678,
                99_999_999,
            ] {
                assert_eq!(
                    r.apply(total),
                    m.risk_score(total),
                    "intercept {i} slope {s} total {total}"
                );
            }
        }
    }

    #[test]
    fn top3_orders_and_breaks_ties_by_variable_order() {
        let r = top3([5, 0, 9, 5, -3, 9].into_iter(), true);
        assert_eq!(r.map(|x| x.var), [2, 5, 0]);
        let c = top3([5, 0, 9, 5, -3, 9].into_iter(), false);
        assert_eq!(c.map(|x| x.var), [4, 1, 0]);
        let none = top3([0, -1].into_iter(), true);
        assert!(none.iter().all(Reason::is_none));
    }
}
