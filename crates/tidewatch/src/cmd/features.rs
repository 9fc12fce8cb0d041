//! `tidewatch features`: the feature catalogue, for analysts and the docs.

use std::process::ExitCode;

use clap::Args;
use tidewatch_state::FEATURES;

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Print as a Markdown table instead of tab-separated lines.
    #[arg(long)]
    markdown: bool,
}

pub fn run(a: FeaturesArgs) -> anyhow::Result<ExitCode> {
    if a.markdown {
        println!("| feature | dimension | unit | nullable | meaning |");
        println!("| --- | --- | --- | --- | --- |");
    }
    for d in FEATURES {
        let dim = serde_json::to_value(d.dimension)?;
        let unit = serde_json::to_value(d.unit)?;
        let dim = dim.as_str().unwrap_or_default();
        let unit = unit.as_str().unwrap_or_default();
        let null = if d.nullable { "yes" } else { "no" };
        if a.markdown {
            println!("| `{}` | {dim} | {unit} | {null} | {} |", d.name, d.meaning);
        } else {
            println!("{}\t{dim}\t{unit}\t{null}\t{}", d.name, d.meaning);
        }
    }
    Ok(ExitCode::SUCCESS)
}
