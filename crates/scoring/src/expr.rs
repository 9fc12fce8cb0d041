//! The expression path: a model as polars expressions, one `when/then`
//! chain per variable. It is the readable reference the fast kernel is tested
//! against, and it runs anywhere a `LazyFrame` does.

use polars::prelude::*;

use crate::model::{BinKind, End, Input, Model, Value, Variable};
use crate::points::Points;

fn input_expr(v: &Variable) -> Expr {
    match &v.input {
        Input::Column(c) => col(c.as_str()),
        Input::Ratio(a, b) => when(col(b.as_str()).neq(lit(0)))
            .then(col(a.as_str()).cast(DataType::Float64) / col(b.as_str()).cast(DataType::Float64))
            .otherwise(lit(NULL).cast(DataType::Float64)),
        Input::Sum(cs) => cs
            .iter()
            .skip(1)
            .fold(col(cs[0].as_str()).cast(DataType::Int64), |acc, c| {
                acc + col(c.as_str()).cast(DataType::Int64)
            }),
        Input::Diff(a, b) => {
            col(a.as_str()).cast(DataType::Int64) - col(b.as_str()).cast(DataType::Int64)
        }
    }
}

fn pts(p: Option<Points>) -> Expr {
    match p {
        Some(p) => lit(p),
        None => lit(NULL).cast(DataType::Int64),
    }
}

fn value_lit(v: &Value) -> Expr {
    match v {
        Value::Int(i) => lit(*i),
        Value::Str(s) => lit(s.as_str()),
    }
}

/// `when(c0).then(v0).when(c1).then(v1)….otherwise(other)`.
fn chain(mut pairs: Vec<(Expr, Expr)>, other: Expr) -> Expr {
    if pairs.is_empty() {
        return other;
    }
    let (c0, v0) = pairs.remove(0);
    let first = when(c0).then(v0);
    let mut rest = pairs.into_iter();
    let Some((c1, v1)) = rest.next() else {
        return first.otherwise(other);
    };
    let mut ch = first.when(c1).then(v1);
    for (c, v) in rest {
        ch = ch.when(c).then(v);
    }
    ch.otherwise(other)
}

/// The points of one variable as an expression (fixed-point Int64; null
/// where the value has no bin).
pub fn variable_points(v: &Variable) -> Expr {
    let x = input_expr(v);
    let missing = pts(v.missing_bin().map(|b| b.points));
    let mut pairs = vec![(x.clone().is_null(), missing)];
    if v.is_categorical() {
        for b in &v.bins {
            if let BinKind::Values(vs) = &b.kind {
                let cond = vs
                    .iter()
                    .skip(1)
                    .fold(x.clone().eq(value_lit(&vs[0])), |acc, val| {
                        acc.or(x.clone().eq(value_lit(val)))
                    });
                pairs.push((cond, lit(b.points)));
            }
        }
        let other = v
            .bins
            .iter()
            .find(|b| b.kind == BinKind::Else)
            .map(|b| b.points);
        chain(pairs, pts(other))
    } else {
        let mut bins: Vec<(f64, Points)> = v
            .bins
            .iter()
            .filter_map(|b| match b.kind {
                BinKind::Range { hi, .. } => Some((key(hi), b.points)),
                _ => None,
            })
            .collect();
        bins.sort_by(|a, b| a.0.total_cmp(&b.0));
        let last = bins.pop().map_or(0, |b| b.1);
        for (hi, p) in bins {
            pairs.push((x.clone().lt(lit(hi)), lit(p)));
        }
        chain(pairs, lit(last))
    }
}

fn key(b: End) -> f64 {
    match b {
        End::NegInf => f64::NEG_INFINITY,
        End::At(x) => x,
        End::PosInf => f64::INFINITY,
    }
}

/// Adds one `<variable>_points` column per variable and `total_points`
/// (base points + their sum; null when any variable found no bin).
pub fn with_points(model: &Model, lf: LazyFrame) -> LazyFrame {
    let exprs: Vec<Expr> = model
        .variables
        .iter()
        // Literals are dynamically typed; pin points to Int64 fixed-point.
        .map(|v| {
            variable_points(v)
                .cast(DataType::Int64)
                .alias(format!("{}_points", v.name))
        })
        .collect();
    let total = model
        .variables
        .iter()
        .fold(lit(model.base_points).cast(DataType::Int64), |acc, v| {
            acc + col(format!("{}_points", v.name))
        })
        .alias("total_points");
    lf.with_columns(exprs).with_column(total)
}
