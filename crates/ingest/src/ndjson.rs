//! NDJSON file sources: one record per line, with line numbers kept for the
//! dead-letter file. Lines are handed on as bytes, not strings, so a line
//! that is not UTF-8 still reaches the decoder (and the dead-letter file)
//! instead of stopping the read.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Reads `path` and calls `f(line_no, bytes)` for each non-blank line
/// (1-based numbers, `\r\n` endings tolerated). Blank lines are not records.
pub fn for_each_line(path: &Path, mut f: impl FnMut(u64, &[u8])) -> io::Result<u64> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    let mut records = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let mut line = &buf[..];
        while let [rest @ .., b'\n' | b'\r'] = line {
            line = rest;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records += 1;
        f(line_no, line);
    }
    Ok(records)
}
