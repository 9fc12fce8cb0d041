//! Double-random (双随机) draws, the deterministic and verifiable core.
//!
//! A draw is a pure function of a [`Plan`], a population snapshot
//! ([`PopulationRow`]s), an officer roster, the officers' inspection history
//! and one string of public randomness. Everything random derives from
//! SHA-256 over the plan digest, the population digest and that string, so
//! anyone holding the published inputs can re-derive the [`Manifest`] with
//! [`verify`]. The exact algorithm is in `docs/draw-algorithm.md`; this crate
//! is its reference implementation and does no I/O.

pub mod class;
pub mod digest;
pub mod draw;
pub mod plan;
pub mod population;
pub mod verify;

pub use class::Class;
pub use draw::{
    draw, replace, Chosen, DrawError, DrawInputs, LoadSummary, Manifest, OfficerLoad,
    PastInspection, Replacement, Shortfall, StratumCount, Unstaffed, ALGORITHM_VERSION,
};
pub use plan::{Exclusions, PerClass, Plan, PlanError, Quota};
pub use population::{canonical_csv, population_digest, PopulationError, PopulationRow};
pub use verify::{verify, Mismatch};
