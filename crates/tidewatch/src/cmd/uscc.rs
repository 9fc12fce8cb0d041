//! `tidewatch uscc CODE…`: check codes by hand.

use std::process::ExitCode;

use clap::Args;
use tidewatch_model::Uscc;

#[derive(Debug, Args)]
pub struct UsccArgs {
    /// Codes to check.
    #[arg(required = true)]
    codes: Vec<String>,
}

/// Prints `CODE valid` or `CODE <error>` per code, in order; exits 1 if any
/// code is invalid.
pub fn run(a: UsccArgs) -> anyhow::Result<ExitCode> {
    let mut bad = false;
    for c in &a.codes {
        match Uscc::parse(c) {
            Ok(_) => println!("{c}\tvalid"),
            Err(e) => {
                bad = true;
                println!("{c}\t{e}");
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
