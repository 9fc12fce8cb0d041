//! Money in yuan, exact.
//!
//! Amounts travel as decimal strings (`"200000.00"`) and are held as
//! [`rust_decimal::Decimal`], never as a float: a fine of 0.1 + 0.2 yuan must
//! be 0.3 yuan, and a threshold at 100000 must not depend on rounding.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount in yuan with at most two decimal places (fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses a decimal string in yuan. Negative amounts parse (so that the
    /// validator can reject them with their own reason), more than two
    /// decimal places do not.
    pub fn parse(s: &str) -> Result<Self, String> {
        let d = Decimal::from_str_exact(s.trim())
            .map_err(|_| format!("amount {s:?} is not a decimal number in yuan"))?;
        if d.scale() > 2 {
            return Err(format!(
                "amount {s:?} has more than two decimal places (fen is the smallest unit)"
            ));
        }
        Ok(Money(d))
    }

    pub fn from_decimal(d: Decimal) -> Self {
        Money(d)
    }

    /// Whole yuan plus fen, e.g. `Money::yuan(1200, 50)` is 1200.50.
    pub fn yuan(yuan: i64, fen: u8) -> Self {
        let sign = if yuan < 0 { -1 } else { 1 };
        Money(Decimal::new(yuan * 100 + sign * fen as i64, 2))
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// The amount in fen, exactly, or `None` if it does not fit an `i64`.
    pub fn to_fen(self) -> Option<i64> {
        let f = self.0.checked_mul(Decimal::ONE_HUNDRED)?;
        i64::try_from(f.trunc()).ok()
    }

    /// Amount from fen.
    pub fn from_fen(fen: i64) -> Self {
        Money(Decimal::new(fen, 2))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Always two places, the way amounts are printed on decisions.
        write!(f, "{:.2}", self.0)
    }
}

impl FromStr for Money {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an amount in yuan as a decimal string, e.g. \"200000.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_two_places() {
        let a = Money::parse("0.10").expect("ok").decimal()
            + Money::parse("0.2").expect("ok").decimal();
        assert_eq!(Money::from_decimal(a), Money::parse("0.30").expect("ok"));
        assert_eq!(
            Money::parse("200000.00").expect("ok").to_fen(),
            Some(20_000_000)
        );
        assert_eq!(Money::yuan(1200, 50).to_string(), "1200.50");
        assert!(Money::parse("1.005").is_err());
        assert!(Money::parse("abc").is_err());
        assert!(Money::parse("-5").expect("parses").is_negative());
        assert!(!Money::parse("-0").expect("parses").is_negative());
    }

    #[test]
    fn floats_are_refused_on_the_wire() {
        assert!(serde_json::from_str::<Money>("200000.0").is_err());
        assert_eq!(
            serde_json::from_str::<Money>("\"200000.00\"").expect("string"),
            Money::yuan(200000, 0)
        );
    }
}
