//! `leganto rollover-report`: the potential rollovers of a CEM export, checked against Alma.

use std::io::Write;

use leganto_shared::pipeline;

use crate::common::{self, AtomicFile, Fatal, RunArgs};

#[derive(clap::Args)]
#[command(
    mut_arg("output", |a| a.help(
        "The report to write (course loader format), or a directory to write \
         YYYYMMDDHHMMSS.txt into"
    )),
    mut_arg("alma_url", |a| a.required(true).help(
        "Alma API base URL, e.g. https://api-na.hosted.exlibrisgroup.com (key: ALMA_API_KEY). \
         Required: every copy request is checked against Alma"
    )),
)]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let run = &args.run;
    let rules = common::load_rules(run.rules.as_deref())?;
    // clap requires --alma-url here; the error only guards against that changing.
    let cache = run.alma_cache()?.ok_or_else(|| {
        Fatal::Settings("rollover-report needs --alma-url: pass Alma's API base URL".into())
    })?;
    let run_date = common::run_date(run.run_date, run.time_zone);
    let output = common::output_path(&run.output, run_date, run.time_zone);
    let mut input = common::open_input(&run.input)?;
    let mut file = AtomicFile::create(&output)?;
    let summary = {
        let mut out = file.writer();
        let summary = pipeline::rollover_report(&mut input, &rules, &cache, &mut out).await?;
        out.flush()
            .map_err(|e| Fatal::Output(format!("cannot write {}: {e}", output.display())))?;
        summary
    };
    file.commit()?;
    run.report("rollover-report", run_date, &output, &summary)
}
