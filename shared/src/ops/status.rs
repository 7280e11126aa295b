//! A day at a glance: what S3 holds for the run date (export, loader file, rejects, rollover
//! report, summary with its counts, caches, the push receipt and the day's lease) and the
//! executions that ran for it.

use aws_sdk_sfn::types::ExecutionListItem;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::OpsError;
use crate::config::{aws_time, execution_console_url};
use crate::run::lease::{self, Lease};
use crate::run::receipt::{read_receipt, PushReceipt};
use crate::run::report::DayReport;
use crate::run::ExecutionInput;
use crate::store::{file_name, DayKeys, ObjectInfo, Store, StoreError};

/// What the run summary says, as far as people need it here.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryView {
    pub key: String,
    /// `counts`: named whole numbers.
    pub counts: Vec<(String, Value)>,
    pub warnings: Vec<String>,
    pub years_needed: Vec<Value>,
    pub loader_file_name: Option<String>,
    pub made_at: Option<String>,
    /// The safety brake's reasons when it tripped (`brake.tripped`), else empty.
    pub brake_reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Summary {
    Missing,
    Read(SummaryView),
    /// There, but not the JSON expected: why.
    Unreadable(String),
}

/// The day's objects, by kind.
#[derive(Debug, Clone, PartialEq)]
pub struct DayFiles {
    pub run_date: NaiveDate,
    pub bucket: String,
    pub exports: Vec<ObjectInfo>,
    pub loader_files: Vec<ObjectInfo>,
    pub rejects: Option<ObjectInfo>,
    pub rollover_reports: Vec<ObjectInfo>,
    pub caches: Vec<ObjectInfo>,
    /// Anything else under the day's `reports/` folder.
    pub other_reports: Vec<ObjectInfo>,
    pub summary: Summary,
    /// The day's report (`figures.json`), written when the day's last run ended.
    pub report: Option<DayReport>,
    /// The one file loaded for the day, if any was pushed.
    pub pushed: Option<PushReceipt>,
    /// The execution holding the day, if one does (or left its lease behind).
    pub lease: Option<Lease>,
}

/// Reads the summary's parts that matter to people; tolerant of fields added later.
pub fn summary_view(key: &str, json: &Value) -> Option<SummaryView> {
    let object = json.as_object()?;
    let counts = object
        .get("counts")
        .and_then(Value::as_object)
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let strings = |name: &str| -> Vec<String> {
        object
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
    Some(SummaryView {
        key: key.to_string(),
        counts,
        warnings: strings("warnings"),
        years_needed: object
            .get("years_needed")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        loader_file_name: text("loader_file_name"),
        made_at: text("made_at"),
        brake_reasons: match object.get("brake") {
            Some(brake) if brake["tripped"] == Value::Bool(true) => brake["reasons"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        },
    })
}

/// Lists the day's folders and reads its run summary.
pub async fn day_files(store: &Store, run_date: NaiveDate) -> Result<DayFiles, OpsError> {
    let day = DayKeys::new(run_date);
    let exports = store.list(&day.cem_prefix()).await?;
    let records = [day.push_receipt(), day.push_intent()];
    let loader_files: Vec<ObjectInfo> = store
        .list(&day.alma_prefix())
        .await?
        .into_iter()
        .filter(|o| !records.contains(&o.key))
        .collect();
    let pushed = read_receipt(store, run_date).await?;
    let lease = lease::read(store, &day).await?.map(|(lease, _)| lease);
    let caches = store.list(&day.cache_prefix()).await?;
    let reports = ReportFiles::sort(store.list(&day.reports_prefix()).await?, &day);
    let summary = match reports.has_summary {
        true => read_summary(store, &day.run_summary()).await?,
        false => Summary::Missing,
    };
    let report = match reports.has_report {
        true => read_report(store, &day).await?,
        false => None,
    };
    Ok(DayFiles {
        run_date,
        bucket: store.bucket().to_string(),
        exports,
        loader_files,
        rejects: reports.rejects,
        rollover_reports: reports.rollover_reports,
        caches,
        other_reports: reports.other,
        summary,
        report,
        pushed,
        lease,
    })
}

/// The day's objects under `reports/`, by kind.
struct ReportFiles {
    has_summary: bool,
    has_report: bool,
    rejects: Option<ObjectInfo>,
    rollover_reports: Vec<ObjectInfo>,
    /// The page, the report, a decision...
    other: Vec<ObjectInfo>,
}

impl ReportFiles {
    fn sort(objects: Vec<ObjectInfo>, day: &DayKeys) -> ReportFiles {
        let (summary_key, rejects_key) = (day.run_summary(), day.rejects());
        let rollover_prefix = day.rollover_prefix();
        let mut files = ReportFiles {
            has_summary: false,
            has_report: objects.iter().any(|o| o.key == day.day_figures()),
            rejects: None,
            rollover_reports: Vec::new(),
            other: Vec::new(),
        };
        for o in objects {
            if o.key == summary_key {
                files.has_summary = true;
            } else if o.key == rejects_key {
                files.rejects = Some(o);
            } else if o.key.starts_with(&rollover_prefix) {
                files.rollover_reports.push(o);
            } else {
                files.other.push(o);
            }
        }
        files
    }
}

async fn read_summary(store: &Store, key: &str) -> Result<Summary, OpsError> {
    Ok(match store.get_json::<Value>(key).await {
        Ok(json) => match summary_view(key, &json) {
            Some(view) => Summary::Read(view),
            None => Summary::Unreadable("not a JSON object".to_string()),
        },
        Err(StoreError::NotFound { .. }) => Summary::Missing,
        Err(e @ StoreError::BadJson { .. }) => Summary::Unreadable(crate::error::error_chain(&e)),
        Err(e) => return Err(e.into()),
    })
}

/// The day's report as the last run's release stored it; one that does not read is
/// logged and left out (the summary and the executions still say what happened).
async fn read_report(store: &Store, day: &DayKeys) -> Result<Option<DayReport>, OpsError> {
    match store.get_json::<DayReport>(&day.day_figures()).await {
        Ok(report) => Ok(Some(report)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e @ StoreError::BadJson { .. }) => {
            tracing::warn!(error = %crate::error::error_chain(&e), "the day's report is unreadable");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub name: String,
    pub execution_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`...
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// From the execution input; `None` when the input did not say (the schedule's `{}`).
    pub start_at: Option<String>,
    pub dry_run: bool,
    pub console_url: Option<String>,
    /// A failed run's error name and cause, as Step Functions keeps them.
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The states it went through, from its history ([`super::account::collapse`] them).
    pub visits: Vec<super::account::Visit>,
}

/// Whether an execution may be for `run_date` before its input is read: its name carries
/// the date (reruns), or it started that day in the library's time zone (the schedule).
pub fn may_be_for_day(name: &str, started_at: DateTime<Utc>, run_date: NaiveDate, tz: Tz) -> bool {
    name.contains(&run_date.format("%Y-%m-%d").to_string())
        || started_at.with_timezone(&tz).date_naive() == run_date
}

/// The executions of the state machine that ran for `run_date`, oldest first.
pub async fn executions_for_day(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    run_date: NaiveDate,
    tz: Tz,
) -> Result<Vec<ExecutionInfo>, OpsError> {
    let mut found = Vec::new();
    for item in candidates(sfn, state_machine_arn, run_date, tz).await? {
        if let Some(info) = describe_for_day(sfn, &item, run_date, tz).await? {
            found.push(info);
        }
    }
    found.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(found)
}

/// The executions that may be for the day: listed newest first, down to the start of the
/// day in the library's time zone.
async fn candidates(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    run_date: NaiveDate,
    tz: Tz,
) -> Result<Vec<ExecutionListItem>, OpsError> {
    let day_start = tz
        .from_local_datetime(&run_date.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc));
    let mut candidates = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| OpsError::sfn("ListExecutions", e))?;
        for item in page.executions() {
            let Some(started) = aws_time(item.start_date()) else {
                continue;
            };
            if day_start.is_some_and(|d| started < d) {
                return Ok(candidates);
            }
            if may_be_for_day(item.name(), started, run_date, tz) {
                candidates.push(item.clone());
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(candidates),
        }
    }
}

/// The execution, if its input's run date (or its start day) is `run_date`.
async fn describe_for_day(
    sfn: &aws_sdk_sfn::Client,
    item: &ExecutionListItem,
    run_date: NaiveDate,
    tz: Tz,
) -> Result<Option<ExecutionInfo>, OpsError> {
    let Some(started_at) = aws_time(item.start_date()) else {
        return Ok(None);
    };
    let described = sfn
        .describe_execution()
        .execution_arn(item.execution_arn())
        .send()
        .await
        .map_err(|e| OpsError::sfn("DescribeExecution", e))?;
    let input = described
        .input()
        .and_then(|i| serde_json::from_str::<Value>(i).ok())
        .and_then(|i| ExecutionInput::from_value(&i).ok())
        .unwrap_or_default();
    if input.run_date_or_start_day(started_at, tz) != run_date {
        return Ok(None);
    }
    let steps = super::rerun::steps(sfn, item.execution_arn()).await?;
    Ok(Some(ExecutionInfo {
        name: item.name().to_string(),
        execution_arn: item.execution_arn().to_string(),
        status: item.status().as_str().to_string(),
        started_at,
        stopped_at: item.stop_date().and_then(aws_time),
        start_at: input.start_at.map(|s| s.name().to_string()),
        dry_run: input.dry_run,
        console_url: execution_console_url(None, item.execution_arn()),
        error: described.error().map(str::to_string),
        cause: described.cause().map(str::to_string),
        visits: super::account::visits(&steps),
    }))
}

pub fn short_name(o: &ObjectInfo) -> &str {
    file_name(&o.key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> ExecutionInput {
        ExecutionInput::from_value(&value).unwrap()
    }

    #[test]
    fn a_rerun_started_days_later_belongs_to_the_date_in_its_input() {
        let tz = chrono_tz::America::Phoenix;
        let started = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert!(may_be_for_day(
            "rerun-2026-11-28-push-20261130T170000Z",
            started,
            day,
            tz
        ));
        assert_eq!(
            input(json!({"run_date": "2026-11-28"})).run_date_or_start_day(started, tz),
            day
        );
    }

    #[test]
    fn a_scheduled_run_belongs_to_the_day_it_started_in_the_library_time_zone() {
        let tz = chrono_tz::America::Phoenix;
        // 02:00 UTC on the 29th is 19:00 on the 28th in Phoenix.
        let started = Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert!(may_be_for_day("c0ffee-schedule", started, day, tz));
        assert_eq!(input(json!({})).run_date_or_start_day(started, tz), day);
        assert!(!may_be_for_day(
            "c0ffee-schedule",
            started,
            day.succ_opt().unwrap(),
            tz
        ));
    }

    #[test]
    fn summary_counts_warnings_and_years_are_read_and_unknown_fields_ignored() {
        let json = json!({
            "loader_file_name": "20261128092514.txt",
            "counts": {"rows_read": 20000, "rows_written": 19650, "rejected": 12},
            "warnings": ["two exports found"],
            "years_needed": [2025, 2026],
            "made_at": "2026-11-28T16:25:14Z",
            "details": {"anything": true}
        });
        let view = summary_view("reports/2026/11/28/run-summary.json", &json).unwrap();
        let mut counts: Vec<(&str, u64)> = view
            .counts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_u64().unwrap()))
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            [
                ("rejected", 12),
                ("rows_read", 20000),
                ("rows_written", 19650)
            ]
        );
        assert_eq!(view.warnings, ["two exports found"]);
        assert_eq!(view.years_needed, [json!(2025), json!(2026)]);
        assert_eq!(view.loader_file_name.as_deref(), Some("20261128092514.txt"));
    }
}
