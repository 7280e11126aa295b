//! `leganto transform`: CEM export → course loader file. Offline without `--alma-url`
//! (DELETE rows held back), else with the delete guard checked against Alma.

use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;
use leganto_shared::domain::{self, DeleteGuard};
use leganto_shared::pipeline;

use crate::common::{self, AtomicFile, CliSummary, Fatal};

#[derive(clap::Args)]
pub struct Args {
    /// The CEM export (CSV; Windows-1252 or UTF-8).
    #[arg(long)]
    input: PathBuf,
    /// The course loader file to write, or a directory to write YYYYMMDDHHMMSS.txt into.
    #[arg(long)]
    output: PathBuf,
    /// Alma API base URL, e.g. https://api-na.hosted.exlibrisgroup.com (key: ALMA_API_KEY).
    /// Without it, DELETE rows are held back and counted as unverified.
    #[arg(long)]
    alma_url: Option<String>,
    /// Alma calls per second at most.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    alma_rate: u32,
    /// Institution rules (TOML); the built-in ASU rules otherwise.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The day the run is for (YYYY-MM-DD); today in the library's time zone otherwise.
    #[arg(long)]
    run_date: Option<NaiveDate>,
    /// Write rejected rows here (CSV: line,course_code,reason).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Write the run summary here (JSON).
    #[arg(long)]
    summary: Option<PathBuf>,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let rules = common::load_rules(args.rules.as_deref())?;
    let cache = match &args.alma_url {
        Some(url) => Some(common::alma_cache(url, args.alma_rate)?),
        None => None,
    };
    let run_date = common::run_date(args.run_date, &rules);
    let output = common::output_path(&args.output, run_date, &rules);
    let mut input = common::open_input(&args.input)?;
    let mut file = AtomicFile::create(&output)?;
    let summary = {
        let mut out = file.writer();
        let summary = match &cache {
            Some(cache) => {
                pipeline::transform_with_alma(&mut input, &rules, cache, &mut out).await?
            }
            None => {
                let started = std::time::Instant::now();
                let mut s = domain::transform(&mut input, &rules, DeleteGuard::Offline, &mut out)?;
                s.durations_ms.total_ms = started.elapsed().as_millis() as u64;
                s.durations_ms.read_ms = s.durations_ms.total_ms;
                s
            }
        };
        out.flush()
            .map_err(|e| Fatal::Output(format!("cannot write {}: {e}", output.display())))?;
        summary
    };
    file.commit()?;
    if let Some(p) = &args.rejects {
        common::write_rejects(p, &summary.rejects)?;
    }
    common::report(
        &CliSummary {
            command: "transform",
            run_date: run_date.to_string(),
            input: args.input.display().to_string(),
            output: output.display().to_string(),
            summary: &summary,
        },
        args.summary.as_deref(),
    )
}
