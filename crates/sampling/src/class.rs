//! Risk classes A–D, as the population snapshot carries them: the domain
//! model's own, shared with scoring.

pub use tidewatch_model::{Class, ClassError};
