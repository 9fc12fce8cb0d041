//! Points as exact fixed-point numbers.
//!
//! Scorecard points are integers or decimals with at most four places. They
//! are held as integers in units of 1/10 000 point, so a total never depends
//! on the order it was summed in, and every tool that adds the same card's
//! points gets the same number.

use std::fmt;

use rust_decimal::Decimal;

/// Fixed-point points: the value × 10 000.
pub type Points = i64;

/// 10 000: one point.
pub const ONE: Points = 10_000;

/// Decimal places points may have.
pub const PLACES: u32 = 4;

/// Converts a decimal to points, refusing more than four decimal places.
pub fn from_decimal(d: Decimal) -> Result<Points, String> {
    let d = d.normalize();
    if d.scale() > PLACES {
        return Err(format!("points {d} have more than {PLACES} decimal places"));
    }
    let scaled = d * Decimal::from(ONE);
    i64::try_from(scaled).map_err(|_| format!("points {d} are out of range"))
}

/// Parses points written as a decimal string (`"12.5"`).
pub fn parse(s: &str) -> Result<Points, String> {
    let d: Decimal = s
        .trim()
        .parse()
        .map_err(|_| format!("points {s:?} are not a number"))?;
    from_decimal(d)
}

/// Points from a float as written in a file: the shortest decimal that
/// round-trips (so `0.1` is exactly 0.1, not the nearest binary fraction).
pub fn from_f64(f: f64) -> Result<Points, String> {
    if !f.is_finite() {
        return Err(format!("points {f} are not a finite number"));
    }
    parse(&format!("{f}"))
}

/// Points as a decimal.
pub fn to_decimal(p: Points) -> Decimal {
    Decimal::new(p, PLACES).normalize()
}

/// Displays points without trailing zeros: `12`, `12.5`, `-0.25`.
#[derive(Debug, Clone, Copy)]
pub struct Show(pub Points);

impl fmt::Display for Show {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", to_decimal(self.0))
    }
}

/// Points as f64 (for output columns; exact for |p| < 2^53 / 10^4).
pub fn to_f64(p: Points) -> f64 {
    p as f64 / ONE as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact() {
        assert_eq!(from_f64(0.1), Ok(1000));
        assert_eq!(parse("12.5"), Ok(125_000));
        assert_eq!(parse("-3"), Ok(-30_000));
        assert!(parse("0.00001").is_err());
        assert_eq!(Show(125_000).to_string(), "12.5");
        assert_eq!(Show(-2500).to_string(), "-0.25");
        assert_eq!(
            from_f64(0.1).unwrap() + from_f64(0.2).unwrap(),
            from_f64(0.3).unwrap()
        );
    }
}
