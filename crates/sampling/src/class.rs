//! Risk classes A–D, as the population snapshot carries them.
//!
//! tidewatch-scoring has its own `Class`; this copy keeps the sampling crate
//! free of polars. Both use the same one-letter codes, so converting is
//! `Class::parse(scoring_class.as_str())`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A risk class: A 信用风险低, B 一般, C 较高, D 高.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Class {
    A,
    B,
    C,
    D,
}

/// A class code that is not one of `A`, `B`, `C`, `D`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk class {0:?} is not one of A, B, C, D")]
pub struct ClassError(pub String);

impl Class {
    pub const ALL: [Class; 4] = [Class::A, Class::B, Class::C, Class::D];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::A => "A",
            Class::B => "B",
            Class::C => "C",
            Class::D => "D",
        }
    }

    pub fn parse(s: &str) -> Result<Class, ClassError> {
        match s {
            "A" => Ok(Class::A),
            "B" => Ok(Class::B),
            "C" => Ok(Class::C),
            "D" => Ok(Class::D),
            _ => Err(ClassError(s.to_string())),
        }
    }
}

impl FromStr for Class {
    type Err = ClassError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Class::parse(s)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
