//! `tidewatch audit verify FILE`: check the audit log's hash chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tidewatch_server::audit::{verify_with_anchor, Head};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify every entry's hash and link; print the head (entries and last
    /// hash) to record as an anchor. Exits 1 if the chain is broken.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The audit log (JSON lines), e.g. out/audit.jsonl.
    file: PathBuf,
    /// A head recorded earlier, as ENTRIES:HASH (what this command or
    /// GET /v1/audit/head printed then). Fails if that entry is gone or
    /// differs, which catches entries deleted or rewritten at the end.
    #[arg(long, value_parser = parse_anchor)]
    anchor: Option<Head>,
}

fn parse_anchor(s: &str) -> Result<Head, String> {
    let (n, h) = s
        .split_once(':')
        .ok_or_else(|| format!("anchor {s:?} is not ENTRIES:HASH"))?;
    let entries = n
        .parse()
        .map_err(|_| format!("anchor entries {n:?} is not a number"))?;
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("anchor hash {h:?} is not 64 hex digits"));
    }
    Ok(Head {
        entries,
        hash: h.to_ascii_lowercase(),
    })
}

pub fn run(a: AuditArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        AuditCommand::Verify(v) => match verify_with_anchor(&v.file, v.anchor.as_ref()) {
            Ok(head) => {
                println!(
                    "ok\t{} entries\thead {}:{}",
                    head.entries, head.entries, head.hash
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!("broken\t{}: {e}", v.file.display());
                Ok(ExitCode::from(1))
            }
        },
    }
}
