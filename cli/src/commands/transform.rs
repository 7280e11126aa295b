//! `leganto transform`: CEM export → course loader file. Offline without `--alma-url`
//! (DELETE rows held back), else with the delete guard checked against Alma.

use std::io::Write;
use std::path::PathBuf;

use leganto_shared::domain::{self, DeleteGuard};
use leganto_shared::pipeline;

use crate::common::{self, AtomicFile, Fatal, RunArgs};

#[derive(clap::Args)]
#[command(
    mut_arg("output", |a| a.help(
        "The course loader file to write, or a directory to write YYYYMMDDHHMMSS.txt into"
    )),
    mut_arg("alma_url", |a| a.help(
        "Alma API base URL, e.g. https://api-na.hosted.exlibrisgroup.com (key: ALMA_API_KEY). \
         Optional: without it, DELETE rows are held back and counted as unverified"
    )),
)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Write rejected rows here (CSV: line,course_code,reason).
    #[arg(long)]
    rejects: Option<PathBuf>,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let run = &args.run;
    let rules = common::load_rules(run.rules.as_deref())?;
    let cache = run.alma_cache()?;
    let run_date = common::run_date(run.run_date, run.time_zone);
    let output = common::output_path(&run.output, run_date, run.time_zone);
    let mut input = common::open_input(&run.input)?;
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
    run.report("transform", run_date, &output, &summary)
}
