//! Transform the export: the day's CEM export from S3 → Alma's course loader file
//! (`alma/…/YYYYMMDDHHMMSS.txt`, named now in the library's time zone), the rejects CSV and
//! the run summary (`reports/…/run-summary.json`, which a rerun's plan reads back). The
//! delete guard asks Alma. A fatal input error is `InvalidInput` and nothing is written.

use std::collections::BTreeSet;
use std::io::Cursor;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pull::PullOutput;
use super::{capped, RunInfo, StepContext, StepError};
use crate::domain::loader::loader_file_name;
use crate::domain::{scan, RowReject, Rules, RunSummary};
use crate::pipeline;
use crate::store::{content_type, file_name, file_stamp, DayKeys};

/// At most this many warnings travel in the state (Step Functions caps it at 256 KB); all
/// of them are in the run summary.
pub const WARNINGS_IN_STATE: usize = 25;

#[derive(Debug, Clone, Deserialize)]
pub struct TransformInput {
    pub run: RunInfo,
    #[serde(default)]
    pub pull: Option<PullOutput>,
}

/// Named whole numbers; Slack and the e-mail print each one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformCounts {
    pub rows_read: u64,
    pub rows_skipped: u64,
    pub rows_written: u64,
    pub rejected: u64,
    pub deletes_sent: u64,
    pub deletes_suppressed: u64,
    pub deletes_not_in_alma: u64,
    pub warnings: u64,
}

impl TransformCounts {
    pub fn from_summary(s: &RunSummary) -> TransformCounts {
        TransformCounts {
            rows_read: s.rows_read,
            rows_skipped: s.rows_skipped,
            rows_written: s.courses_written,
            rejected: s.rows_rejected,
            deletes_sent: s.deletes.sent,
            deletes_suppressed: s.deletes.suppressed_reading_lists,
            deletes_not_in_alma: s.deletes.not_in_alma,
            warnings: s.warnings.len() as u64,
        }
    }

    /// (label, value) in a fixed order, for people.
    pub fn labelled(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("Rows read", self.rows_read),
            ("Rows skipped (requested)", self.rows_skipped),
            ("Courses written", self.rows_written),
            ("Rows rejected", self.rejected),
            ("Deletes sent", self.deletes_sent),
            (
                "Deletes suppressed (reading lists)",
                self.deletes_suppressed,
            ),
            ("Deletes not in Alma", self.deletes_not_in_alma),
            ("Warnings", self.warnings),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformOutput {
    pub loader_key: String,
    pub loader_file_name: String,
    pub summary_key: String,
    pub rejects_key: String,
    #[serde(default)]
    pub counts: TransformCounts,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub years_needed: Vec<i32>,
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
pub fn years_needed(
    export: &mut Cursor<&[u8]>,
    rules: &Rules,
) -> Result<(Vec<i32>, Vec<String>), StepError> {
    let found = scan(export, rules).map_err(|e| StepError::InvalidInput {
        message: format!("the CEM export cannot be used: {e}"),
        source: Some(Box::new(e)),
    })?;
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
    Ok((years.into_iter().collect(), odd))
}

/// The rejects file: `line,course_code,column,reason`.
pub fn rejects_csv(rejects: &[RowReject]) -> Result<Vec<u8>, StepError> {
    let fail = |e: csv::Error| StepError::OutputFailed(std::io::Error::other(e));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["line", "course_code", "column", "reason"])
        .map_err(fail)?;
    for r in rejects {
        w.write_record([
            r.line.to_string().as_str(),
            &r.course_code,
            r.column.unwrap_or_default(),
            &r.reason,
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| StepError::OutputFailed(std::io::Error::other(e.to_string())))
}

/// The export to read: the pull's, else the day's latest in `cem/`.
pub(crate) async fn export_key(
    ctx: &StepContext,
    day: &DayKeys,
    pull: Option<&PullOutput>,
) -> Result<String, StepError> {
    if let Some(pull) = pull {
        return Ok(pull.export_key.clone());
    }
    let prefix = day.cem_prefix();
    match ctx.store.latest(&prefix).await? {
        Some(key) => Ok(key),
        None => Err(crate::store::StoreError::NotFound {
            bucket: ctx.store.bucket().to_string(),
            key: format!("{prefix}leganto_export_*"),
        }
        .into()),
    }
}

pub async fn run(ctx: &StepContext, input: TransformInput) -> Result<TransformOutput, StepError> {
    let day = input.run.day();
    let export_key = export_key(ctx, &day, input.pull.as_ref()).await?;
    let export = ctx.store.get(&export_key).await?;
    let rules = ctx.rules()?;
    let cache = ctx.course_cache().await?;

    let mut loader = Vec::with_capacity(export.len());
    let mut reader = Cursor::new(export.as_ref());
    let summary = pipeline::transform_with_alma(&mut reader, &rules, &cache, &mut loader).await?;
    let (years_needed, odd_years) = years_needed(&mut reader, &rules)?;

    let made_at = ctx.now();
    let local = made_at.with_timezone(&ctx.config.time_zone);
    let loader_file_name = loader_file_name(&local);
    let loader_key = format!("{}{loader_file_name}", day.alma_prefix());
    debug_assert_eq!(loader_key, day.alma_loader_file(local.naive_local()));

    let mut warnings: Vec<String> = summary.warnings.iter().map(|w| w.to_string()).collect();
    warnings.extend(
        odd_years
            .iter()
            .map(|y| format!("copy year {y:?} is not a year; no rollover check for it")),
    );
    let output = TransformOutput {
        loader_key,
        loader_file_name,
        summary_key: day.run_summary(),
        rejects_key: day.rejects(),
        counts: TransformCounts::from_summary(&summary),
        warnings: capped(
            warnings,
            WARNINGS_IN_STATE,
            "all of them in run-summary.json",
        ),
        years_needed,
    };

    ctx.store
        .put(&output.loader_key, loader, content_type::TEXT)
        .await?;
    ctx.store
        .put(
            &output.rejects_key,
            rejects_csv(&summary.rejects)?,
            content_type::CSV,
        )
        .await?;
    // Last: a rerun's plan takes the summary as proof the stage finished.
    ctx.store
        .put_json(
            &output.summary_key,
            &SummaryDocument {
                output: &output,
                run_date: input.run.run_date.to_string(),
                export_key: &export_key,
                made_at,
                details: &summary,
            },
        )
        .await?;
    tracing::info!(
        export = file_name(&export_key),
        loader_key = %output.loader_key,
        rows_read = summary.rows_read,
        courses_written = summary.courses_written,
        rejected = summary.rows_rejected,
        warnings = summary.warnings.len(),
        alma_calls = summary.alma_calls,
        stamp = %file_stamp(local.naive_local()),
        "transformed the export"
    );
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_csv_names_line_code_column_and_reason() {
        let csv = rejects_csv(&[RowReject {
            line: 7,
            course_code: "2026Fall-X-ENG101-1".into(),
            column: Some("SLN"),
            reason: "not a number, \"x\"".into(),
        }])
        .unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(
            text,
            "line,course_code,column,reason\n7,2026Fall-X-ENG101-1,SLN,\"not a number, \"\"x\"\"\"\n"
        );
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
