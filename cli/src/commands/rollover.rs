//! `leganto rollover-report`: the potential rollovers of a CEM export, checked against Alma.

use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use leganto_shared::pipeline;

use crate::common::{self, AtomicFile, CliSummary, Fatal};

#[derive(clap::Args)]
pub struct Args {
    /// The CEM export (CSV; Windows-1252 or UTF-8).
    #[arg(long)]
    input: PathBuf,
    /// The report to write (course loader format), or a directory.
    #[arg(long)]
    output: PathBuf,
    /// Alma API base URL (key: ALMA_API_KEY).
    #[arg(long)]
    alma_url: String,
    /// Alma calls per second at most.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    alma_rate: u32,
    /// Institution rules (TOML); the built-in ASU rules otherwise.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The day the run is for (YYYY-MM-DD); today in the library's time zone otherwise.
    #[arg(long)]
    run_date: Option<NaiveDate>,
    /// Write the run summary here (JSON).
    #[arg(long)]
    summary: Option<PathBuf>,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let rules = common::load_rules(args.rules.as_deref())?;
    let cache = common::alma_cache(&args.alma_url, args.alma_rate)?;
    let run_date = common::run_date(args.run_date, &rules);
    let output = common::output_path(&args.output, run_date, &rules);
    let mut input = common::open_input(&args.input)?;
    let mut file = AtomicFile::create(&output)?;
    let summary = {
        let mut out = file.writer();
        let summary = pipeline::rollover_report(&mut input, &rules, &cache, &mut out).await?;
        out.flush()
            .map_err(|e| Fatal::Output(format!("cannot write {}: {e}", output.display())))?;
        summary
    };
    file.commit()?;
    common::report(
        &CliSummary {
            command: "rollover-report",
            run_date: run_date.to_string(),
            input: args.input.display().to_string(),
            output: output.display().to_string(),
            summary: &summary,
        },
        args.summary.as_deref(),
    )
}
