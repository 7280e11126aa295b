//! The day page: `reports/YYYY/MM/DD/index.html`, written by the release at the end of every
//! run (failed runs included), and the day's figures beside it (`figures.json`), which the
//! next pages chart. Takes the state the run ends with; reads the day's run summary, rollover
//! report and file listing and the last 42 days' figures or summaries; writes the two files.

pub mod chart;
pub mod html;
pub mod metrics;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use futures::{stream, StreamExt};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::run::report::DayReport;
use crate::run::state::RunState;
use crate::run::RunInfo;
use crate::store::{content_type, DayKeys, Store, StoreError};

use html::{FileLink, Page, RejectRow, RolloverRow};

/// Rows a table shows; the rest are in the day's files.
pub const TABLE_ROWS: usize = 200;

/// Reads of earlier days' figures at once.
const CONCURRENT_READS: usize = 8;

/// What the release wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub page_key: String,
    pub report: DayReport,
}

/// Characters a key keeps in a console link's query (`/` reads better than `%2F`).
const KEY_IN_QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

/// The S3 console's page of one object (the bucket is never public; people sign in).
pub fn s3_console_url(region: &str, bucket: &str, key: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/s3/object/{bucket}?region={region}&bucketType=general&prefix={}",
        utf8_percent_encode(key, KEY_IN_QUERY)
    )
}

/// The region for console links: the execution ARN's, else `fallback` (`CONSOLE_REGION`).
pub fn console_region<'a>(execution_arn: &'a str, fallback: Option<&'a str>) -> Option<&'a str> {
    execution_arn
        .strip_prefix("arn:")
        .and_then(|_| execution_arn.split(':').nth(3))
        .filter(|r| !r.is_empty())
        .or(fallback)
}

/// The day page's S3 console link, as Slack and the e-mail give it.
pub fn page_console_url(
    run: &RunInfo,
    bucket: &str,
    fallback_region: Option<&str>,
) -> Option<String> {
    let region = console_region(&run.execution_arn, fallback_region)?;
    Some(s3_console_url(region, bucket, &run.day().day_page()))
}

/// Where the run ran: the console's region when the execution's ARN does not say, and the
/// stack the page's commands name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Place<'a> {
    pub region: Option<&'a str>,
    pub stack: Option<&'a str>,
}

/// Writes the day's report (`figures.json`) and page for the run that ends with `state`.
/// `on_report` sees the report as soon as it is known, before anything is written (the
/// metrics go out even when the page then cannot be made).
#[tracing::instrument(skip_all, fields(run_date = %run.run_date))]

pub async fn publish(
    store: &Store,
    run: &RunInfo,
    state: &RunState,
    place: Place<'_>,
    now: DateTime<Utc>,
    on_report: impl FnOnce(&DayReport),
) -> Result<Published, StoreError> {
    let day = run.day();
    let summary: Option<Value> = store
        .get_json_versioned(&day.run_summary())
        .await?
        .map(|(summary, _)| summary);
    let mut report = DayReport::of(run.run_date, state, summary.as_ref(), now);
    if let Some(stack) = place.stack {
        report.name_the_stack(stack);
    }
    let fallback_region = place.region;
    on_report(&report);
    store.put_json(&day.day_figures(), &report).await?;

    let mut history = earlier_days(store, run.run_date).await?;
    history.push(report.clone());

    let (rejects, rejects_total) = summary.as_ref().map(reject_rows).unwrap_or_default();
    let report_key = match &state.report {
        Some(rollovers) => Some(rollovers.report_key.clone()),
        None => store.latest(&day.rollover_prefix()).await?,
    };
    let (rollover_rows, rollover_total) = match report_key {
        Some(key) => match store.get_versioned(&key).await? {
            Some((bytes, _)) => rollover_rows(&String::from_utf8_lossy(&bytes)),
            None => (Vec::new(), 0),
        },
        None => (Vec::new(), 0),
    };
    let region = console_region(&run.execution_arn, fallback_region);
    let files = day_files(store, &day, region).await?;

    let page = Page {
        figures: &report,
        history: &history,
        rejects: &rejects,
        rejects_total,
        rollover_rows: &rollover_rows,
        rollover_total,
        files: &files,
        execution_url: run.console_url.as_deref(),
        made_at: now,
    };
    let page_key = day.day_page();
    store
        .put(&page_key, html::render(&page), content_type::HTML)
        .await?;
    tracing::info!(page_key, days_charted = history.len(), "wrote the day page");
    Ok(Published { page_key, report })
}

/// The reports of the 41 days before `run_date` that have any: `figures.json` where the
/// release wrote one, else what the run summary holds. Always the live days: a dry run's
/// page compares with what was really loaded.
async fn earlier_days(store: &Store, run_date: NaiveDate) -> Result<Vec<DayReport>, StoreError> {
    let first = run_date - Duration::days(chart::DAYS - 1);
    let mut months: Vec<(i32, u32)> = Vec::new();
    let mut d = first;
    while d < run_date {
        if !months.contains(&(d.year(), d.month())) {
            months.push((d.year(), d.month()));
        }
        d += Duration::days(1);
    }
    let mut keys = Vec::new();
    for (year, month) in months {
        for object in store
            .list(&format!("reports/{year:04}/{month:02}/"))
            .await?
        {
            keys.push(object.key);
        }
    }
    let mut wanted: Vec<String> = Vec::new();
    let mut d = first;
    while d < run_date {
        let day = DayKeys::new(d);
        if keys.contains(&day.day_figures()) {
            wanted.push(day.day_figures());
        } else if keys.contains(&day.run_summary()) {
            wanted.push(day.run_summary());
        }
        d += Duration::days(1);
    }
    let read: Vec<Result<Option<DayReport>, StoreError>> = stream::iter(wanted)
        .map(|key| async move {
            let Some((value, _)) = store.get_json_versioned::<Value>(&key).await? else {
                return Ok(None);
            };
            if key.ends_with("figures.json") {
                Ok(serde_json::from_value(value).ok())
            } else {
                Ok(DayReport::from_summary(&value))
            }
        })
        .buffered(CONCURRENT_READS)
        .collect()
        .await;
    let mut days = Vec::new();
    for report in read {
        // A file that does not read as a report leaves a gap in the charts, nothing more.
        days.extend(report?);
    }
    Ok(days)
}

/// The summary's rejects (at most [`TABLE_ROWS`]) and how many there were.
fn reject_rows(summary: &Value) -> (Vec<RejectRow>, u64) {
    let details = &summary["details"];
    let list = details["rejects"].as_array().cloned().unwrap_or_default();
    let total = details["rows_rejected"]
        .as_u64()
        .unwrap_or(list.len() as u64)
        .max(list.len() as u64);
    let rows = list
        .iter()
        .take(TABLE_ROWS)
        .map(|r| RejectRow {
            line: r["line"].as_u64().unwrap_or(0),
            course_code: r["course_code"].as_str().unwrap_or("").to_string(),
            column: r["column"].as_str().unwrap_or("").to_string(),
            reason: r["reason"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    (rows, total)
}

/// The rollover report's rows (tab-separated, a header line first): at most [`TABLE_ROWS`],
/// and how many there are.
fn rollover_rows(report: &str) -> (Vec<RolloverRow>, u64) {
    let mut lines = report.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return (Vec::new(), 0);
    };
    let columns: Vec<&str> = header.split('\t').collect();
    let at = |name: &str| columns.iter().position(|c| c.trim() == name);
    let (code, section, title, old_code, old_section) = (
        at("Course Code"),
        at("Section ID"),
        at("Course Title"),
        at("Old Course Code"),
        at("Old Course Section ID"),
    );
    let mut rows = Vec::new();
    let mut total = 0u64;
    for line in lines {
        total += 1;
        if rows.len() < TABLE_ROWS {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |i: Option<usize>| {
                i.and_then(|i| cells.get(i))
                    .map_or(String::new(), |c| c.to_string())
            };
            rows.push(RolloverRow {
                course_code: cell(code),
                section_id: cell(section),
                title: cell(title),
                old_course_code: cell(old_code),
                old_section_id: cell(old_section),
            });
        }
    }
    (rows, total)
}

/// Everything stored for the day but the page itself, each with a link relative to the
/// page and its console link.
async fn day_files(
    store: &Store,
    day: &DayKeys,
    region: Option<&str>,
) -> Result<Vec<FileLink>, StoreError> {
    let page_key = day.day_page();
    let up = "../".repeat(page_key.matches('/').count());
    let mut files = Vec::new();
    for prefix in [
        day.cem_prefix(),
        day.alma_prefix(),
        day.reports_prefix(),
        day.cache_prefix(),
    ] {
        for object in store.list(&prefix).await? {
            if object.key == page_key {
                continue;
            }
            files.push(FileLink {
                relative: format!("{up}{}", object.key),
                console: region.map(|r| s3_console_url(r, store.bucket(), &object.key)),
                key: object.key,
                size: object.size,
            });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_link_names_the_region_bucket_and_key() {
        assert_eq!(
            s3_console_url("us-west-2", "leganto-data", "reports/2026/11/28/index.html"),
            "https://us-west-2.console.aws.amazon.com/s3/object/leganto-data?region=us-west-2&bucketType=general&prefix=reports/2026/11/28/index.html"
        );
        assert!(s3_console_url("r", "b", "a b&c").ends_with("prefix=a%20b%26c"));
    }

    #[test]
    fn the_region_comes_from_the_execution_arn_else_the_setting() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:m:x";
        assert_eq!(console_region(arn, Some("us-east-1")), Some("eu-west-1"));
        assert_eq!(
            console_region("local-run", Some("us-east-1")),
            Some("us-east-1")
        );
        assert_eq!(console_region("", None), None);
    }

    #[test]
    fn the_page_link_is_the_dry_runs_own_in_a_dry_run() {
        let mut run = RunInfo::for_date(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        run.dry_run = true;
        let url = page_console_url(&run, "b", Some("us-west-2")).unwrap();
        assert!(
            url.ends_with("prefix=dry-run/2026/11/28/reports/index.html"),
            "{url}"
        );
        assert_eq!(page_console_url(&run, "b", None), None);
    }

    #[test]
    fn rollover_rows_are_read_by_column_name_and_counted_past_the_table() {
        let mut report = String::from(
            "Course Code\tCourse Title\tSection ID\tOperation\tOld Course Code\tOld Course Section ID\n",
        );
        for i in 0..(TABLE_ROWS + 5) {
            report.push_str(&format!("C{i}\tTitle <{i}>\t{i}\tROLLOVER\tOLD{i}\t9{i}\n"));
        }
        let (rows, total) = rollover_rows(&report);
        assert_eq!(total, TABLE_ROWS as u64 + 5);
        assert_eq!(rows.len(), TABLE_ROWS);
        assert_eq!(
            rows[1],
            RolloverRow {
                course_code: "C1".into(),
                section_id: "1".into(),
                title: "Title <1>".into(),
                old_course_code: "OLD1".into(),
                old_section_id: "91".into(),
            }
        );
        assert_eq!(rollover_rows(""), (Vec::new(), 0));
    }

    #[test]
    fn rejects_come_from_the_summary_with_their_total() {
        let summary = serde_json::json!({"details": {"rows_rejected": 500, "rejects": [
            {"line": 3, "course_code": "X<1>", "column": "COURSE_CODE", "reason": "empty"},
            {"line": 9, "course_code": "Y", "column": null, "reason": "bad date"}]}});
        let (rows, total) = reject_rows(&summary);
        assert_eq!(total, 500);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].column, "");
        assert_eq!(rows[0].course_code, "X<1>");
    }
}
