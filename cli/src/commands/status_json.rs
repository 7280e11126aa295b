//! `leganto status --output json`: the day as one JSON document for scripts. The field
//! names are a contract (docs/operating.md lists them); the day report, push receipt and
//! lease appear as S3 stores them.

use leganto_shared::ops::account::{collapse, Entry};
use leganto_shared::ops::status::{DayFiles, ExecutionInfo, Summary};
use leganto_shared::store::ObjectInfo;
use serde_json::{json, Value};

/// What `status` knows about the day, beside the day's files.
pub struct About<'a> {
    pub stack: Option<&'a str>,
    pub state_machine_arn: &'a str,
    pub time_zone: chrono_tz::Tz,
    /// The day page's S3 URI and console link, when there is a page.
    pub day_page: Option<(String, Option<String>)>,
}

/// The document `--output json` prints.
pub fn document(files: &DayFiles, executions: &[ExecutionInfo], about: &About<'_>) -> Value {
    json!({
        "run_date": files.run_date,
        "time_zone": about.time_zone.name(),
        "stack": about.stack,
        "bucket": files.bucket,
        "state_machine_arn": about.state_machine_arn,
        "files": {
            "exports": objects(&files.exports),
            "loader_files": objects(&files.loader_files),
            "rejects": files.rejects.as_ref().map(object),
            "rollover_reports": objects(&files.rollover_reports),
            "caches": objects(&files.caches),
            "other_reports": objects(&files.other_reports),
        },
        "day_page": about.day_page.as_ref().map(|(uri, console)| json!({
            "s3_uri": uri,
            "console_url": console,
        })),
        "summary": summary(&files.summary),
        "pushed": files.pushed,
        "lease": files.lease,
        "report": files.report,
        "executions": executions.iter().map(execution).collect::<Vec<_>>(),
    })
}

fn object(o: &ObjectInfo) -> Value {
    json!({"key": o.key, "size": o.size, "last_modified": o.last_modified})
}

fn objects(list: &[ObjectInfo]) -> Vec<Value> {
    list.iter().map(object).collect()
}

/// The run summary's counts and notes; `state` says whether there was one to read.
fn summary(summary: &Summary) -> Value {
    match summary {
        Summary::Missing => json!({"state": "missing"}),
        Summary::Unreadable(why) => json!({"state": "unreadable", "why": why}),
        Summary::Read(s) => json!({
            "state": "read",
            "key": s.key,
            "made_at": s.made_at,
            "loader_file_name": s.loader_file_name,
            "counts": s.counts.iter().cloned().collect::<serde_json::Map<_, _>>(),
            "warnings": s.warnings,
            "years_needed": s.years_needed,
            "brake_reasons": s.brake_reasons,
        }),
    }
}

fn execution(e: &ExecutionInfo) -> Value {
    json!({
        "name": e.name,
        "execution_arn": e.execution_arn,
        "status": e.status,
        "started_at": e.started_at,
        "stopped_at": e.stopped_at,
        "start_at": e.start_at,
        "dry_run": e.dry_run,
        "console_url": e.console_url,
        "error": e.error,
        "cause": e.cause,
        "next_step": e.error.as_deref().map(leganto_shared::next_step::next_step),
        "states": states(e),
    })
}

/// The account: each entry's states (one, or a loop's cycle) with how often each was
/// entered, when the first entered and the last left, and a failure inside it.
fn states(e: &ExecutionInfo) -> Vec<Value> {
    collapse(&e.visits)
        .iter()
        .map(|entry| match entry {
            Entry::Once(v) => json!({
                "states": [{"name": v.name, "entered": 1}],
                "entered_at": v.entered,
                "exited_at": v.exited,
                "failure": v.failure,
            }),
            Entry::Loop(l) => json!({
                "states": l.states.iter().map(|(name, count)| json!({"name": name, "entered": count})).collect::<Vec<_>>(),
                "entered_at": l.entered,
                "exited_at": l.exited,
                "failure": null,
            }),
        })
        .collect()
}
