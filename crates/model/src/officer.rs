//! Inspectors (执法人员) as the roster lists them.

use serde::{Deserialize, Serialize};

use crate::codes::{Domain, RegionCode};
use crate::uscc::Uscc;

/// One officer of the roster used for double-random team assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Officer {
    pub officer_id: String,
    pub name: String,
    /// The unit's region: `330900` for the city bureau, a district code for a
    /// district bureau.
    pub unit: RegionCode,
    /// Fields the officer is qualified to inspect.
    pub qualifications: Vec<Domain>,
    /// Entities the officer has declared an interest in (must recuse).
    #[serde(default)]
    pub conflicts: Vec<Uscc>,
    /// Inspections the officer can take on in one plan period.
    pub capacity: u32,
}
