//! `tidewatch model import CARD.csv --out MODEL.toml`: bring an analyst's
//! scorecard into pipelines format.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use tidewatch_scoring::import::import_scorecardpy;
use tidewatch_scoring::Model;

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Import a scorecardpy card (CSV with variable, bin, points).
    Import {
        /// The card, as written by `pd.concat(card).to_csv()`.
        card: PathBuf,
        /// Where to write the model (TOML).
        #[arg(long)]
        out: PathBuf,
        /// Model id (default: the card's file stem).
        #[arg(long)]
        id: Option<String>,
    },
    /// Load a model and report its version and variables, or what is wrong.
    Check { model: PathBuf },
}

pub fn run(a: ModelArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        ModelCommand::Import { card, out, id } => {
            let text = std::fs::read_to_string(&card)
                .with_context(|| format!("reading {}", card.display()))?;
            let id = id.unwrap_or_else(|| {
                card.file_stem().map_or_else(
                    || "imported".to_owned(),
                    |s| s.to_string_lossy().into_owned(),
                )
            });
            let toml = import_scorecardpy(&text, &id, &card.display().to_string())?;
            std::fs::write(&out, &toml).with_context(|| format!("writing {}", out.display()))?;
            let m = Model::load(&out)?;
            println!(
                "imported {} variables from {} into {} (model {}, version {})",
                m.variables.len(),
                card.display(),
                out.display(),
                m.id,
                m.version
            );
        }
        ModelCommand::Check { model } => {
            let m = Model::load(&model)?;
            println!(
                "{}: model {} ({}), version {}",
                model.display(),
                m.id,
                m.field,
                m.version
            );
            for v in &m.variables {
                println!("  {:<40} {} bins  {}", v.name, v.bins.len(), v.input);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
