//! What the engine's tests share: the repository root and the seeds as
//! records.

use std::path::Path;

use tidewatch_ingest::ndjson;
use tidewatch_model::Family;

pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Every line of the seeds with its family and line number, interleaved
/// by line number, as the three topics arrive together.
pub fn seed_records() -> Vec<(Family, Vec<u8>, u64)> {
    let mut out = Vec::new();
    for family in Family::ALL {
        let path = root().join(format!("seeds/{}.ndjson", family.as_str()));
        ndjson::for_each_line(&path, |line, b| out.push((family, b.to_vec(), line)))
            .expect("seeds");
    }
    out.sort_by_key(|(_, _, line)| *line);
    out
}
