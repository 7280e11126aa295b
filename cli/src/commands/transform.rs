//! `leganto transform`: CEM export → course loader file. Offline without `--alma-url`
//! (DELETE rows held back), else with the delete guard checked against Alma. With
//! `--baseline` (the export of the last loaded day) only the courses new or changed since
//! it are written: a delta file (course-loading.md §8), whatever the weekday.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use leganto_shared::alma::CourseCache;
use leganto_shared::domain::delta::{Baseline, Changed, Load, LoadKind};
use leganto_shared::domain::run::write_course_rows;
use leganto_shared::domain::{self, DeleteGuard, Rules, RunSummary};
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
    /// The CEM export of the last day Alma loaded: write only the courses new or changed
    /// since then (a delta file). Without it, every course (a full file).
    #[arg(long, value_name = "LAST_LOADED.csv")]
    baseline: Option<PathBuf>,
}

/// The baseline export's course rows, by the same rules as today's.
fn read_baseline(path: &Path, rules: &Rules) -> Result<Baseline, Fatal> {
    let mut input = common::open_input(path)?;
    let mut rows = Vec::new();
    write_course_rows(&mut input, rules, &mut rows).map_err(|e| {
        Fatal::Input(format!(
            "the baseline export {} cannot be used: {e}",
            path.display()
        ))
    })?;
    Ok(Baseline::from_rows(&rows))
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let run = &args.run;
    let rules = common::load_rules(run.rules.as_deref())?;
    let cache = run.alma_cache()?;
    let run_date = common::run_date(run.run_date, run.time_zone);
    let output = common::output_path(&run.output, run_date, run.time_zone);
    let mut input = common::open_input(&run.input)?;
    let changed = match &args.baseline {
        Some(path) => Some(changed_since(path, &mut input, &rules)?),
        None => None,
    };
    let only = changed.as_ref();
    let summary = write_loader_file(&output, &mut input, &rules, cache.as_ref(), only).await?;
    if let Some(p) = &args.rejects {
        common::write_rejects(p, &summary.rejects)?;
    }
    run.report("transform", run_date, &output, &summary)?;
    println!("{}", load_of(only, &summary));
    // Term coverage (§9): a warning, never a failure.
    for missing in rules.export().terms_missing(run_date, &summary.terms_seen) {
        println!("warning: {missing}");
    }
    Ok(())
}

/// The courses of today's export new or changed since the baseline export.
fn changed_since(baseline: &Path, input: &mut File, rules: &Rules) -> Result<Changed, Fatal> {
    let baseline = read_baseline(baseline, rules)?;
    let mut today = Vec::new();
    write_course_rows(input, rules, &mut today)?;
    Ok(Changed::between(&today, &baseline))
}

/// The loader file at `output`, whole or not at all: the delete guard asks Alma through
/// `cache`, else DELETE rows are held back.
async fn write_loader_file(
    output: &Path,
    input: &mut File,
    rules: &Rules,
    cache: Option<&CourseCache>,
    only: Option<&Changed>,
) -> Result<RunSummary, Fatal> {
    let mut file = AtomicFile::create(output)?;
    let summary = {
        let mut out = file.writer();
        let summary = match cache {
            Some(cache) => {
                pipeline::transform_only_with_alma(input, rules, cache, only, &mut out).await?
            }
            None => transform_offline(input, rules, only, &mut out)?,
        };
        out.flush()
            .map_err(|e| Fatal::Output(format!("cannot write {}: {e}", output.display())))?;
        summary
    };
    file.commit()?;
    Ok(summary)
}

/// The transform without Alma, timed: all of its time is reading the export.
fn transform_offline(
    input: &mut File,
    rules: &Rules,
    only: Option<&Changed>,
    out: impl Write,
) -> Result<RunSummary, Fatal> {
    let started = std::time::Instant::now();
    let mut s = domain::run::transform_only(input, rules, DeleteGuard::Offline, only, out)?;
    s.durations_ms.total_ms = started.elapsed().as_millis() as u64;
    s.durations_ms.read_ms = s.durations_ms.total_ms;
    Ok(s)
}

/// What kind of load the file is: a delta with `only`, else a full one.
fn load_of(only: Option<&Changed>, summary: &RunSummary) -> Load {
    Load {
        kind: if only.is_some() {
            LoadKind::Delta
        } else {
            LoadKind::Full
        },
        courses: only.map_or(summary.courses_written, |c| c.courses),
        changed: summary.rows_in_file,
        reason: only.is_none().then(|| "no --baseline".to_string()),
        since: None,
    }
}
