//! Double-random (双随机) draws, the deterministic and verifiable core.
//!
//! A draw is a pure function of a [`Plan`], a population snapshot
//! ([`PopulationRow`]s), an officer roster, the officers' inspection history
//! and one string of public randomness. Everything random derives from
//! SHA-256 over the plan digest, the population digest and that string, so
//! anyone holding the published inputs can re-derive the [`Manifest`] with
//! [`verify`]. The digests of all four inputs are published first as a
//! [`Commitment`]. The exact algorithm is in `docs/draw-algorithm.md`; this
//! crate is its reference implementation and does no I/O: the population
//! can come from any source that yields rows (a scores file, a topic:
//! [`population_from_score_records`]).

pub mod class;
pub mod commit;
pub mod digest;
pub mod draw;
pub mod list;
pub mod plan;
pub mod plan_file;
pub mod population;
pub mod preview;
pub mod score_records;
pub mod verify;

pub use class::Class;
pub use commit::{commit, verify_commitment, Commitment};
pub use draw::{
    draw, draw_with_timings, replace, Chosen, DrawError, DrawInputs, LoadSummary, Manifest,
    OfficerLoad, PastInspection, Replacement, Shortfall, StratumCount, Timings, Unstaffed,
    ALGORITHM_VERSION,
};
pub use plan::{Exclusions, PerClass, Plan, PlanError, Quota};
pub use plan_file::{Defaults, PlanFile};
pub use population::{canonical_csv, parse_csv, population_digest, PopulationError, PopulationRow};
pub use preview::{preview, PoolNeed, Preview};
pub use score_records::{
    population_from_score_records, records_as_of, sample_records, Sample, ScoreRecordError,
};
pub use verify::{verify, Mismatch};
