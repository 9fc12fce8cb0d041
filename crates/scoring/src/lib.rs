//! Risk scoring: scorecards as data, applied to polars frames.
//!
//! Start from [`Model`] (a scorecard loaded from `pipelines/models/`, with
//! its version), bind it to a frame with [`Bound::new`] and call
//! [`Bound::score`] for totals, risk scores, classes and reasons. [`policy`]
//! holds what sits above single models: overrides, the general+specialized
//! combination and which entities a field covers. [`expr`] is the same
//! scoring as polars expressions, the reference the fast path is tested
//! against; [`import`] reads scorecards written by analysts' tools.

pub mod evaluate;
pub mod expr;
pub mod import;
pub mod kernel;
pub mod model;
pub mod points;
pub mod policy;
pub mod synth;

pub use evaluate::{evaluate, Evaluation, FieldEval};
pub use kernel::{BindError, Bound, Reason, Scores, Want};
pub use model::{Class, Cutoffs, Direction, Model, ModelError};
pub use policy::{Field, Override, Policy};
