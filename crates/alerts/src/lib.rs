//! Blacklists and alerts: the rules of the 严重违法失信名单 (serious
//! violations), 质量失信黑名单 (quality dishonesty) and 经营异常名录
//! (abnormal operations) as data, each listing's lifecycle, early warnings,
//! and alerts whose ids derive from the facts.
//!
//! Start from [`Rules::load`] (`pipelines/lists.toml`), then call
//! [`evaluate`] per entity with its history, its scores and its previous
//! [`EntityLists`]; keep the returned state in a [`ListState`] and pass the
//! returned [`Alert`]s on. The format of the rules is in `docs/lists.md`,
//! the alert's JSON in `docs/alert.schema.json`. Pure: no I/O beyond reading
//! the rules file.

pub mod alert;
pub mod evaluate;
mod lifecycle;
pub mod rules;
pub mod state;

pub use alert::{alert_id, Alert, AlertKind, Cause, EntityRef, LoggedAlert};
pub use evaluate::{data_since, evaluate, evaluate_changed, Context, Evaluated, FieldScore, Input};
pub use rules::{ListDef, Mode, Rule, Rules, RulesError};
pub use state::{EntityLists, Entry, ListState, Status};
