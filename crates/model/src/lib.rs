//! The tidewatch domain model.
//!
//! Start from [`Uscc`] (a unified social credit code that is always valid),
//! the event families in [`event`] and [`validate`], which applies the checks
//! decoding cannot. Nothing here does I/O; every other crate builds on these
//! types.

pub mod class;
pub mod codes;
pub mod event;
pub mod money;
pub mod officer;
pub mod reject;
pub mod uscc;

pub use class::{Class, ClassError};
pub use codes::{Domain, IndustryCode, RegionCode, ResultCode, ZoneCode};
pub use event::{CreditBody, CreditRecord, Event, Family};
pub use money::Money;
pub use officer::Officer;
pub use reject::{validate, RejectReason, Rejection};
pub use uscc::{EntityKind, Uscc, UsccError};
