//! The unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! A [`Uscc`] can only be built from a code whose alphabet, length and check
//! character are right, so every other crate can rely on it without checking
//! again. Parsing errors name exactly what is wrong, including the check
//! character that was expected, because people correct these codes by hand.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The 31 characters a code may use, in value order (no I, O, Z, S, V).
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weight of positions 1–17: 3^(i−1) mod 31.
pub const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Length of a code.
pub const LEN: usize = 18;

/// Why a string is not a valid code. Positions are 1-based, as people count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("invalid USCC: expected 18 characters, got {len}")]
    WrongLength { len: usize },
    #[error("invalid USCC: lower-case letters are not allowed; did you mean {upper}?")]
    LowerCase { upper: String },
    #[error("invalid USCC: character {ch:?} at position {pos} is not in the code alphabet (0-9 and A-Y without I, O, S, V, Z)")]
    BadCharacter { pos: usize, ch: char },
    #[error("invalid USCC: check character is {found:?}, expected {expected:?}")]
    BadCheck { expected: char, found: char },
}

/// Value of each byte in [`ALPHABET`], `NONE` for bytes outside it: every
/// event carries a code, so this is on the decoding hot path.
const VALUES: [u8; 256] = {
    let mut t = [NONE; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const NONE: u8 = u8::MAX;

/// The value (0–30) of a code character, or `None` when it is not in the alphabet.
pub fn char_value(c: u8) -> Option<u32> {
    match VALUES[c as usize] {
        NONE => None,
        v => Some(u32::from(v)),
    }
}

/// The check character for the first 17 characters of a code.
///
/// The caller guarantees every byte is in [`ALPHABET`]; use [`Uscc::from_body`]
/// for untrusted input.
fn check_char(body: &[u8]) -> Result<u8, UsccError> {
    let mut sum = 0u32;
    for (i, &c) in body.iter().enumerate() {
        let v = char_value(c).ok_or(UsccError::BadCharacter {
            pos: i + 1,
            ch: c as char,
        })?;
        sum += v * WEIGHTS[i];
    }
    Ok(ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// A valid unified social credit code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc([u8; LEN]);

impl Uscc {
    /// Parses and checks a code.
    pub fn parse(s: &str) -> Result<Self, UsccError> {
        // The common case first: 18 alphabet bytes with the right check
        // character. Anything else takes the path below, which names the error.
        if let Ok(b) = <&[u8; LEN]>::try_from(s.as_bytes()) {
            let mut sum = 0u32;
            let mut ok = true;
            for (&c, w) in b[..17].iter().zip(WEIGHTS) {
                let v = VALUES[c as usize];
                ok &= v != NONE;
                sum += u32::from(v) * w;
            }
            if ok && ALPHABET[((31 - sum % 31) % 31) as usize] == b[17] {
                return Ok(Uscc(*b));
            }
        }
        let n = s.chars().count();
        if n != LEN {
            return Err(UsccError::WrongLength { len: n });
        }
        if s.bytes().any(|b| b.is_ascii_lowercase()) {
            let upper = s.to_ascii_uppercase();
            // Only suggest the upper-case form when it would itself be valid.
            if Self::parse(&upper).is_ok() {
                return Err(UsccError::LowerCase { upper });
            }
        }
        let bytes = s.as_bytes();
        // n == 18 chars; non-ASCII chars would make the byte length differ.
        if bytes.len() != LEN {
            let (pos, ch) = s
                .chars()
                .enumerate()
                .find(|(_, c)| !c.is_ascii())
                .map(|(i, c)| (i + 1, c))
                .unwrap_or((1, '?'));
            return Err(UsccError::BadCharacter { pos, ch });
        }
        let expected = check_char(&bytes[..17])?;
        let found = bytes[17];
        if char_value(found).is_none() {
            return Err(UsccError::BadCharacter {
                pos: 18,
                ch: found as char,
            });
        }
        if found != expected {
            return Err(UsccError::BadCheck {
                expected: expected as char,
                found: found as char,
            });
        }
        let mut out = [0u8; LEN];
        out.copy_from_slice(bytes);
        Ok(Uscc(out))
    }

    /// Completes a 17-character body with its check character.
    pub fn from_body(body: &str) -> Result<Self, UsccError> {
        let b = body.as_bytes();
        if body.chars().count() != 17 || b.len() != 17 {
            return Err(UsccError::WrongLength {
                len: body.chars().count() + 1,
            });
        }
        let c = check_char(b)?;
        let mut out = [0u8; LEN];
        out[..17].copy_from_slice(b);
        out[17] = c;
        Ok(Uscc(out))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII alphabet bytes are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8; LEN] {
        &self.0
    }

    /// Position 1: the registering authority (`9` is market regulation).
    pub fn authority(&self) -> char {
        self.0[0] as char
    }

    /// Positions 1–2 as the entity kind, when it is one market regulation issues.
    pub fn entity_kind(&self) -> Option<EntityKind> {
        EntityKind::from_prefix(&self.0[..2])
    }

    /// Positions 3–8: the GB/T 2260 region code of the registering authority.
    pub fn region_digits(&self) -> &str {
        std::str::from_utf8(&self.0[2..8]).unwrap_or_default()
    }

    /// Positions 9–17: the organisation code.
    pub fn organisation_code(&self) -> &str {
        std::str::from_utf8(&self.0[8..17]).unwrap_or_default()
    }
}

/// Kinds of market entity, from the first two characters of the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// 91: enterprise (企业).
    Enterprise,
    /// 92: individual business (个体工商户).
    IndividualBusiness,
    /// 93: farmers' specialised cooperative (农民专业合作社).
    FarmersCooperative,
}

impl EntityKind {
    pub const ALL: [EntityKind; 3] = [
        EntityKind::Enterprise,
        EntityKind::IndividualBusiness,
        EntityKind::FarmersCooperative,
    ];

    pub fn from_prefix(p: &[u8]) -> Option<Self> {
        match p {
            b"91" => Some(Self::Enterprise),
            b"92" => Some(Self::IndividualBusiness),
            b"93" => Some(Self::FarmersCooperative),
            _ => None,
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Self::Enterprise => "91",
            Self::IndividualBusiness => "92",
            Self::FarmersCooperative => "93",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enterprise => "enterprise",
            Self::IndividualBusiness => "individual_business",
            Self::FarmersCooperative => "farmers_cooperative",
        }
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uscc({})", self.as_str())
    }
}

impl FromStr for Uscc {
    type Err = UsccError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Uscc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Uscc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Uscc;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an 18-character unified social credit code")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Uscc, E> {
                Uscc::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real codes printed on their holders' business licences.
    const REAL: &[&str] = &[
        "9144030071526726XG", // 深圳市腾讯计算机系统有限公司
        "914403001922038216", // 华为技术有限公司
        "91330100716105852F", // 阿里巴巴(中国)有限公司
        "91110000710925462X",
        "91110108551385082Q",
    ];

    #[test]
    fn accepts_published_code() {
        assert!(Uscc::parse(REAL[0]).is_ok());
        let u = Uscc::parse(REAL[0]).expect("valid");
        assert_eq!(u.region_digits(), "440300");
        assert_eq!(u.entity_kind(), Some(EntityKind::Enterprise));
        assert_eq!(u.organisation_code(), "71526726X");
    }

    #[test]
    fn more_published_codes() {
        // Codes printed on public business licences.
        for c in REAL {
            let r = Uscc::parse(c);
            assert!(r.is_ok(), "{c}: {r:?}");
        }
    }

    #[test]
    fn wrong_check_names_expected() {
        let e = Uscc::parse("9144030071526726XA").unwrap_err();
        assert_eq!(
            e,
            UsccError::BadCheck {
                expected: 'G',
                found: 'A'
            }
        );
        assert!(e.to_string().contains("expected 'G'"));
    }

    #[test]
    fn lower_case_suggests_upper() {
        let e = Uscc::parse("9144030071526726xg").unwrap_err();
        assert_eq!(
            e,
            UsccError::LowerCase {
                upper: "9144030071526726XG".into()
            }
        );
    }

    #[test]
    fn errors_are_specific() {
        assert_eq!(
            Uscc::parse("123").unwrap_err(),
            UsccError::WrongLength { len: 3 }
        );
        assert_eq!(
            Uscc::parse("9144030071526726IG").unwrap_err(),
            UsccError::BadCharacter { pos: 17, ch: 'I' }
        );
        assert_eq!(
            Uscc::parse("9144030071526726XO").unwrap_err(),
            UsccError::BadCharacter { pos: 18, ch: 'O' }
        );
        assert!(matches!(
            Uscc::parse("91440300715267２6XG").unwrap_err(),
            UsccError::BadCharacter { pos: 15, ch: '２' }
        ));
    }

    #[test]
    fn every_single_substitution_of_a_valid_code_is_caught() {
        // The mod-31 check detects every single-character error: weights are
        // non-zero mod the prime 31, so any change to one value changes the sum.
        let mut tried = 0;
        for code in REAL {
            let valid = code.as_bytes();
            for pos in 0..LEN {
                for &c in ALPHABET.iter() {
                    if c == valid[pos] {
                        continue;
                    }
                    let mut b = valid.to_vec();
                    b[pos] = c;
                    let s = String::from_utf8(b).expect("ascii");
                    assert!(Uscc::parse(&s).is_err(), "{s} accepted");
                    tried += 1;
                }
            }
        }
        assert_eq!(tried, REAL.len() * 18 * 30);
    }

    proptest! {
        #[test]
        fn from_body_round_trips(body in "[0-9A-HJ-NPQRTUWXY]{17}") {
            let u = Uscc::from_body(&body).expect("alphabet body");
            prop_assert_eq!(Uscc::parse(u.as_str()), Ok(u));
        }

        #[test]
        fn single_substitution_always_caught(body in "[0-9A-HJ-NPQRTUWXY]{17}", pos in 0usize..18, k in 1usize..31) {
            let u = Uscc::from_body(&body).expect("alphabet body");
            let mut b = *u.as_bytes();
            let v = char_value(b[pos]).expect("alphabet") as usize;
            b[pos] = ALPHABET[(v + k) % 31];
            let s = std::str::from_utf8(&b).expect("ascii");
            prop_assert!(Uscc::parse(s).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = Uscc::parse(&s);
        }
    }
}
