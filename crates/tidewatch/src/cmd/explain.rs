//! `tidewatch explain USCC`: one entity's cards, line by line, so a
//! regulator can say why it is in its class.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use clap::Args;
use tidewatch_model::{Domain, Uscc};
use tidewatch_scoring::points::Show;
use tidewatch_scoring::{Class, Direction};
use tidewatch_state::FeatureTable;

use crate::cmd::run::{ingest_seeds, load_policy, resolve_as_of};
use crate::{output, scores};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The entity's unified social credit code.
    uscc: String,
    #[arg(long, default_value = "seeds")]
    seeds: PathBuf,
    #[arg(long)]
    as_of: Option<NaiveDate>,
    #[arg(long, default_value = "pipelines")]
    pipelines: PathBuf,
}

/// Pads to a display width: Chinese characters take two columns.
fn pad(s: &str, width: usize) -> String {
    let w = unicode_width::UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

pub fn run(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let uscc = Uscc::parse(&a.uscc).with_context(|| format!("{:?}", a.uscc))?;
    let as_of = resolve_as_of(a.as_of, &a.seeds)?;
    let policy = load_policy(&a.pipelines)?;
    let (pipe, _) = ingest_seeds(&a.seeds, as_of)?;
    let Some(id) = pipe.store.get(&uscc) else {
        bail!("{uscc} is not a registered entity in {}", a.seeds.display());
    };
    let row = id as usize;
    let table = FeatureTable::compute(&pipe.store, as_of);
    let features = output::features_frame(&pipe.store, &table)?;
    let cover = scores::coverage(&policy, &pipe.store);
    let ev = tidewatch_scoring::evaluate(
        &policy,
        &features,
        &cover,
        tidewatch_scoring::Want {
            points: true,
            reasons: true,
        },
    )?;
    let e = pipe.store.entity(id);
    let reg = e.registration();
    println!("{uscc}  {}", reg.map_or("", |r| r.name.as_str()));
    if let Some(r) = reg {
        println!(
            "  region {} {}  industry {}  as of {as_of}",
            r.region_code,
            r.region_code.name().unwrap_or(""),
            r.industry_code
        );
    }
    let general = ev.field(Domain::General).and_then(|f| f.class[row]);
    for (fi, f) in ev.fields.iter().enumerate() {
        if !f.covered[row] {
            continue;
        }
        let model = &policy.fields[fi].model;
        println!();
        println!(
            "{} — {} ({}, version {})",
            f.domain.label(),
            model.name,
            model.source,
            model.version
        );
        println!(
            "  {}{}{}{:>8}",
            pad("variable", 40),
            pad("value", 16),
            pad("bin", 22),
            "points"
        );
        let pts = f.scores.points.as_ref();
        for (vi, v) in model.variables.iter().enumerate() {
            let value = scores::variable_value(v, &table, row);
            let p = pts.map_or(0, |p| p[vi][row]);
            let bin = v.bin_for(value);
            println!(
                "  {}{}{}{:>8}",
                pad(&v.label, 40),
                pad(&scores::show_value(v, value), 16),
                pad(bin.map_or("-", |b| b.text.as_str()), 22),
                Show(p).to_string()
            );
        }
        let total = f.scores.total[row];
        println!(
            "  {}{:>8}",
            pad("base points", 78),
            Show(model.base_points).to_string()
        );
        println!("  {}{:>8}", pad("total", 78), Show(total).to_string());
        let dir = if model.direction == Direction::Risk {
            "risk"
        } else {
            "credit"
        };
        let own = f.scores.class_of(row);
        println!(
            "  risk score {} ({dir} card) → model class {}",
            f.scores.risk[row],
            own.map_or("-", Class::as_str)
        );
        if let Some(o) = ev.override_applied[row] {
            let o = &policy.overrides[o as usize];
            println!("  override: {} → at least {}", o.reason, o.at_least);
        }
        if f.domain != Domain::General {
            println!(
                "  combined with the general class {} → {} for {}",
                general.map_or("-", Class::as_str),
                f.class[row].map_or("-", Class::as_str),
                f.domain
            );
        } else {
            println!(
                "  general class {}",
                f.class[row].map_or("-", Class::as_str)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
