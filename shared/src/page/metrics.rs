//! The run's CloudWatch metrics in embedded metric format: one JSON line on stdout, which
//! CloudWatch Logs turns into metrics in the `Leganto` namespace (no PutMetricData call, no
//! permission). One dimension, `Stack` (the deployed stack's name, `STACK_NAME`): dev and
//! prod in one account each have their own series, which the template's dashboard and
//! alarms name.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::domain::delta::LoadKind;
use crate::run::report::{DayReport, RunStatus};

pub const NAMESPACE: &str = "Leganto";
/// The dimension every metric carries: the stack that emitted it.
pub const STACK_DIMENSION: &str = "Stack";
/// The dimension's value where `STACK_NAME` is not set (a run outside a deployment).
pub const UNNAMED_STACK: &str = "unnamed";

/// Every metric a run may emit, with its unit; the template's dashboard charts them.
pub const METRICS: [(&str, &str); 17] = [
    ("RowsRead", "Count"),
    ("CoursesWritten", "Count"),
    ("CoursesChanged", "Count"),
    ("RowsRejected", "Count"),
    ("Warnings", "Count"),
    ("DeletesSent", "Count"),
    ("DeletesSuppressed", "Count"),
    ("AlmaCalls", "Count"),
    ("AlmaJobMinutes", "None"),
    ("RunMinutes", "None"),
    ("RolloversFound", "Count"),
    ("RolloversNotFound", "Count"),
    ("RolloversAmbiguous", "Count"),
    ("TermsMissing", "Count"),
    ("RolloversSent", "Count"),
    ("RolloversConfirmed", "Count"),
    ("RolloversFailed", "Count"),
];

/// The EMF line for a run's report in stack `stack`, or `None` for a dry run (it loaded
/// nothing). A run that failed emits `RunFailed` 1 (else 0) besides the figures it has, and
/// a run that judges a load `DayLoaded` 1 when Alma's job says the day loaded, else 0.
pub fn emf_line(f: &DayReport, stack: &str, now: DateTime<Utc>) -> Option<String> {
    if f.dry_run {
        return None;
    }
    let values = metric_values(f);
    let mut body = Map::new();
    let mut declared = Vec::new();
    for ((name, value), (_, unit)) in values.into_iter().zip(METRICS) {
        if let Some(value) = value {
            body.insert(name.to_string(), json!(value));
            declared.push(json!({"Name": name, "Unit": unit}));
        }
    }
    let failed = f.status == Some(RunStatus::Failed);
    body.insert("RunFailed".into(), json!(u8::from(failed)));
    declared.push(json!({"Name": "RunFailed", "Unit": "Count"}));
    // Only runs that judge a load: the alarms on it must not be reset by a report rerun.
    if let Some(loaded) = f.loaded {
        body.insert("DayLoaded".into(), json!(u8::from(loaded)));
        declared.push(json!({"Name": "DayLoaded", "Unit": "Count"}));
    }
    body.insert(STACK_DIMENSION.into(), json!(stack));
    // Properties, not dimensions: searchable in Logs Insights without new metric streams.
    body.insert("RunDate".into(), json!(f.run_date.to_string()));
    if let Some(name) = &f.execution_name {
        body.insert("ExecutionName".into(), json!(name));
    }
    body.insert(
        "_aws".into(),
        json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[STACK_DIMENSION]],
                "Metrics": declared,
            }]
        }),
    );
    Some(Value::Object(body).to_string())
}

/// Each metric of [`METRICS`] with its value, if the run has it.
fn metric_values(f: &DayReport) -> [(&'static str, Option<f64>); 17] {
    let pushed = &f.notes.rollovers_pushed;
    let checked = f.notes.rollovers_checked.as_ref();
    [
        ("RowsRead", f.rows_read.map(|n| n as f64)),
        ("CoursesWritten", f.courses_written.map(|n| n as f64)),
        (
            "CoursesChanged",
            f.load
                .as_ref()
                .filter(|l| l.kind == LoadKind::Delta)
                .map(|l| l.changed)
                .map(|n| n as f64),
        ),
        ("RowsRejected", f.rejected.map(|n| n as f64)),
        ("Warnings", f.warnings.map(|n| n as f64)),
        ("DeletesSent", f.deletes_sent.map(|n| n as f64)),
        ("DeletesSuppressed", f.deletes_suppressed.map(|n| n as f64)),
        ("AlmaCalls", f.alma_calls.map(|n| n as f64)),
        ("AlmaJobMinutes", f.alma_job_minutes),
        ("RunMinutes", f.run_minutes()),
        ("RolloversFound", f.rollovers.map(|r| r.found as f64)),
        ("RolloversNotFound", f.rollovers.map(|r| r.not_found as f64)),
        (
            "RolloversAmbiguous",
            f.rollovers.map(|r| r.ambiguous as f64),
        ),
        // Known once the transform ran: 0 then says the export held every expected term.
        (
            "TermsMissing",
            f.rows_read.map(|_| f.notes.terms_missing.len() as f64),
        ),
        // Approved rollovers (course-loading.md §10): only where some were approved.
        (
            "RolloversSent",
            (!pushed.is_empty()).then_some(pushed.sent as f64),
        ),
        ("RolloversConfirmed", checked.map(|c| c.confirmed as f64)),
        ("RolloversFailed", checked.map(|c| c.failed as f64)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::report::{Load, Rollovers};

    fn figures() -> DayReport {
        serde_json::from_value(json!({"run_date": "2026-11-28", "status": "succeeded",
            "courses_written": 90, "alma_calls": 35, "alma_job_minutes": 12.5,
            "started_at": "2026-11-28T16:00:00Z", "ended_at": "2026-11-28T17:30:00Z"}))
        .unwrap()
    }

    #[test]
    fn the_line_declares_exactly_the_figures_it_carries_in_the_leganto_namespace() {
        let mut f = figures();
        f.rollovers = Some(Rollovers {
            found: 4,
            not_found: 1,
            ambiguous: 0,
            new_since_baseline: None,
        });
        f.load = Some(Load {
            kind: LoadKind::Delta,
            courses: 100,
            changed: 7,
            reason: None,
            since: None,
        });
        let line = emf_line(&f, "leganto-prod", "2026-11-28T17:30:00Z".parse().unwrap()).unwrap();
        assert!(!line.contains('\n'), "one line");
        let v: Value = serde_json::from_str(&line).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Leganto");
        assert_eq!(directive["Dimensions"], json!([["Stack"]]));
        assert_eq!(v["Stack"], "leganto-prod", "the dimension's value");
        assert_eq!(v["_aws"]["Timestamp"], 1_795_887_000_000_i64);
        let declared: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            declared,
            [
                "CoursesWritten",
                "CoursesChanged",
                "AlmaCalls",
                "AlmaJobMinutes",
                "RunMinutes",
                "RolloversFound",
                "RolloversNotFound",
                "RolloversAmbiguous",
                "RunFailed"
            ]
        );
        for name in declared {
            assert!(v[name].is_number(), "{name} has a value");
        }
        assert_eq!(v["RunMinutes"], 90.0);
        assert_eq!(v["CoursesChanged"], 7.0);
        assert_eq!(v["RunFailed"], 0);
    }

    #[test]
    fn the_terms_missing_from_the_export_are_a_metric_once_the_transform_ran() {
        let mut f = figures();
        let line = |f: &DayReport| -> Value {
            serde_json::from_str(&emf_line(f, "leganto-prod", Utc::now()).unwrap()).unwrap()
        };
        assert!(line(&f).get("TermsMissing").is_none(), "no transform");
        f.rows_read = Some(10);
        assert_eq!(line(&f)["TermsMissing"], 0.0);
        f.notes.terms_missing = vec!["the export holds no course of term 1 2027".into(); 2];
        let v = line(&f);
        assert_eq!(v["TermsMissing"], 2.0);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Leganto");
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].to_string();
        assert!(
            declared.contains("{\"Name\":\"TermsMissing\",\"Unit\":\"Count\"}"),
            "{declared}"
        );
    }

    #[test]
    fn a_failed_run_counts_one_failure_and_a_dry_run_emits_nothing() {
        let mut f = figures();
        f.status = Some(RunStatus::Failed);
        let v: Value =
            serde_json::from_str(&emf_line(&f, "leganto-prod", Utc::now()).unwrap()).unwrap();
        assert_eq!(v["RunFailed"], 1);
        f.dry_run = true;
        assert_eq!(emf_line(&f, "leganto-prod", Utc::now()), None);
    }

    #[test]
    fn a_run_that_judges_a_load_says_whether_the_day_loaded() {
        let mut f = figures();
        let line = |f: &DayReport| -> Value {
            serde_json::from_str(&emf_line(f, "leganto-prod", Utc::now()).unwrap()).unwrap()
        };
        assert!(
            line(&f).get("DayLoaded").is_none(),
            "a report rerun judges no load"
        );
        f.loaded = Some(false);
        assert_eq!(line(&f)["DayLoaded"], 0);
        f.loaded = Some(true);
        let v = line(&f);
        assert_eq!(v["DayLoaded"], 1);
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"].to_string();
        assert!(declared.contains("DayLoaded"), "{declared}");
    }
}
