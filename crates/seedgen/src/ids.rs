//! Identifiers that must be pure functions of the seed and an index, so that
//! any part of the generator (a chunk, the officer roster, the bad records)
//! can compute them without sharing state: the entity's USCC, its kind and
//! region, and pseudonymous legal-representative keys.

use tidewatch_model::uscc::ALPHABET;
use tidewatch_model::{EntityKind, Uscc};

/// SplitMix64 finaliser: a fast, well-mixing bijection on `u64`.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed, a stream tag and an index.
pub(crate) fn hash3(seed: u64, tag: u64, i: u64) -> u64 {
    mix(mix(seed ^ tag.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ i)
}

/// A uniform float in [0, 1) from a hash.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Number of organisation codes: 31^9.
pub(crate) const ORG_SPACE: u64 = 26_439_622_160_671;

/// A 4-round Feistel permutation of the 46-bit integers.
fn feistel46(seed: u64, x: u64) -> u64 {
    const HALF: u32 = 23;
    const MASK: u64 = (1 << HALF) - 1;
    let (mut l, mut r) = (x >> HALF, x & MASK);
    for round in 0..4u64 {
        let f = mix(seed ^ round.wrapping_mul(0x9E37_79B9) ^ r) & MASK;
        (l, r) = (r, l ^ f);
    }
    (l << HALF) | r
}

/// The 9-character organisation code of entity `idx`: a keyed permutation of
/// `[0, 31^9)` (Feistel network with cycle walking) written in the code
/// alphabet, so distinct indices below 31^9 give distinct codes that look
/// random.
pub(crate) fn org_code(seed: u64, idx: u64) -> [u8; 9] {
    let key = mix(seed ^ 0x0A11_CE00);
    let mut x = idx % ORG_SPACE;
    loop {
        x = feistel46(key, x);
        if x < ORG_SPACE {
            break;
        }
    }
    let mut out = [0u8; 9];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(x % 31) as usize];
        x /= 31;
    }
    out
}

/// Zhoushan's four county-level regions (GB/T 2260), in the order used by
/// every per-region table of the generator.
pub(crate) const REGIONS: [&str; 4] = ["330902", "330903", "330921", "330922"];
/// Short names used in entity names.
pub(crate) const REGION_NAMES: [&str; 4] = ["定海区", "普陀区", "岱山县", "嵊泗县"];
const REGION_CUM: [f64; 4] = [0.42, 0.75, 0.92, 1.0];
const KIND_CUM: [f64; 3] = [0.55, 0.97, 1.0];

/// What is known about entity `idx` from the seed alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Basics {
    pub kind: EntityKind,
    pub region: usize,
    pub uscc: Uscc,
}

fn pick_cum(u: f64, cum: &[f64]) -> usize {
    cum.iter().position(|&c| u < c).unwrap_or(cum.len() - 1)
}

/// Kind, region and USCC of entity `idx`.
pub(crate) fn basics(seed: u64, idx: u64) -> Basics {
    let h = hash3(seed, 0xBA51C5, idx);
    let kind = EntityKind::ALL[pick_cum(unit(h), &KIND_CUM)];
    let region = pick_cum(unit(mix(h)), &REGION_CUM);
    let uscc = uscc_of(kind, region, &org_code(seed, idx));
    Basics { kind, region, uscc }
}

/// Assembles `9` + kind + region + organisation code and completes the check.
pub(crate) fn uscc_of(kind: EntityKind, region: usize, org: &[u8; 9]) -> Uscc {
    let mut body = [0u8; 17];
    body[..2].copy_from_slice(kind.prefix().as_bytes());
    body[2..8].copy_from_slice(REGIONS[region].as_bytes());
    body[8..].copy_from_slice(org);
    let s = std::str::from_utf8(&body).expect("ASCII alphabet body");
    Uscc::from_body(s).expect("17 alphabet characters always make a code")
}

/// A pseudonymous legal-representative key `LR-` + 12 hex digits: a 48-bit
/// bijection of (chunk, local person number), so keys never collide.
pub(crate) fn rep_key(seed: u64, chunk: u64, local: u64) -> String {
    const MASK: u64 = (1 << 48) - 1;
    let mut x = ((chunk << 20) | (local & 0xF_FFFF)) & MASK;
    x ^= mix(seed ^ 0x7E9) & MASK;
    x = x.wrapping_mul(0x5851_F42D_4C95_7F2D | 1) & MASK;
    x ^= x >> 24;
    x = x.wrapping_mul(0x2545_F491_4F6C_DD1D | 1) & MASK;
    x ^= x >> 21;
    format!("LR-{x:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn org_codes_are_distinct_and_in_alphabet() {
        let mut seen = HashSet::new();
        for i in 0..50_000u64 {
            let c = org_code(7, i);
            assert!(c.iter().all(|b| ALPHABET.contains(b)));
            assert!(seen.insert(c), "collision at {i}");
        }
    }

    #[test]
    fn basics_give_valid_codes() {
        for i in 0..1000 {
            let b = basics(1, i);
            assert_eq!(Uscc::parse(b.uscc.as_str()), Ok(b.uscc));
            assert_eq!(b.uscc.entity_kind(), Some(b.kind));
            assert_eq!(b.uscc.region_digits(), REGIONS[b.region]);
        }
    }

    #[test]
    fn rep_keys_distinct() {
        let mut seen = HashSet::new();
        for c in 0..50 {
            for l in 0..2000 {
                assert!(seen.insert(rep_key(3, c, l)));
            }
        }
        let k = rep_key(3, 0, 0);
        assert_eq!(k.len(), 15);
        assert!(k.starts_with("LR-"));
    }
}
