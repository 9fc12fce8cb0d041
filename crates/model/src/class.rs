//! Risk classes A–D (信用风险低 / 一般 / 较高 / 高), shared by scoring, which
//! assigns them, and sampling, which draws by them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A risk class. The classification is an internal tool for allocating
/// inspections, not a public rating.
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

    /// 0 for A … 3 for D.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class of an index; anything past 3 is D.
    pub fn from_index(i: u8) -> Class {
        match i {
            0 => Class::A,
            1 => Class::B,
            2 => Class::C,
            _ => Class::D,
        }
    }

    /// 信用风险低 / 一般 / 较高 / 高.
    pub fn label(self) -> &'static str {
        match self {
            Class::A => "信用风险低",
            Class::B => "信用风险一般",
            Class::C => "信用风险较高",
            Class::D => "信用风险高",
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
