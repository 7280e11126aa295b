//! The day's figures: what the page, the metrics and the 42-day charts show of one run,
//! read from the state the run ends with and the day's run summary. Stored next to the
//! page as `reports/YYYY/MM/DD/figures.json`, so later pages chart them without reading
//! execution histories. A day with only a run summary (before figures were kept) charts
//! what the summary holds.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

/// Delta or full load, as the transform decided (absent before delta loads).
pub use crate::domain::delta::{thousands, Load};

/// Rollover report counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollovers {
    pub found: u64,
    pub not_found: u64,
    pub ambiguous: u64,
}

/// One stage of the run as its own figures date it: when it happened, how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub stage: String,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayFigures {
    pub run_date: NaiveDate,
    /// None for a day known only from its run summary.
    #[serde(default)]
    pub status: Option<RunStatus>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub failed_state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub execution_name: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rows_read: Option<u64>,
    #[serde(default)]
    pub courses_written: Option<u64>,
    #[serde(default)]
    pub rejected: Option<u64>,
    #[serde(default)]
    pub warnings: Option<u64>,
    #[serde(default)]
    pub deletes_sent: Option<u64>,
    #[serde(default)]
    pub deletes_suppressed: Option<u64>,
    #[serde(default)]
    pub load: Option<Load>,
    #[serde(default)]
    pub file_pushed: Option<String>,
    /// Transform's, the caches', the rollover report's, and one per look at Alma's job.
    #[serde(default)]
    pub alma_calls: Option<u64>,
    #[serde(default)]
    pub alma_job_status: Option<String>,
    #[serde(default)]
    pub alma_job_minutes: Option<f64>,
    #[serde(default)]
    pub rollovers: Option<Rollovers>,
    #[serde(default)]
    pub timings: Vec<Timing>,
}

impl DayFigures {
    fn empty(run_date: NaiveDate) -> DayFigures {
        DayFigures {
            run_date,
            status: None,
            dry_run: false,
            failed_state: None,
            error: None,
            error_message: None,
            execution_name: None,
            started_at: None,
            ended_at: None,
            rows_read: None,
            courses_written: None,
            rejected: None,
            warnings: None,
            deletes_sent: None,
            deletes_suppressed: None,
            load: None,
            file_pushed: None,
            alma_calls: None,
            alma_job_status: None,
            alma_job_minutes: None,
            rollovers: None,
            timings: Vec::new(),
        }
    }

    /// What a stored run summary alone says of its day (`None` when it has no run date).
    pub fn from_summary(summary: &Value) -> Option<DayFigures> {
        let run_date = summary
            .get("run_date")
            .and_then(Value::as_str)
            .and_then(|d| d.parse().ok())?;
        let mut figures = DayFigures::empty(run_date);
        figures.add_summary(summary);
        Some(figures)
    }

    /// The figures of the run that ends with `state` (the whole state the release gets),
    /// with the day's run summary when there is one, at `now`.
    pub fn from_state(
        run_date: NaiveDate,
        state: &Value,
        summary: Option<&Value>,
        now: DateTime<Utc>,
    ) -> DayFigures {
        let mut f = DayFigures::empty(run_date);
        let run = &state["run"];
        f.dry_run = run["dry_run"].as_bool().unwrap_or(false);
        f.execution_name = text(&run["execution_name"]);
        f.started_at = time(&run["started_at"]);
        f.ended_at = Some(now);
        let failed = state.get("error").is_some_and(|e| !e.is_null());
        f.status = Some(if failed {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        });
        if failed {
            f.failed_state = text(&state["failed_state"]);
            f.error = text(&state["error"]["Error"]);
            f.error_message =
                text(&state["error"]["Cause"]).map(|cause| crate::run::readable_cause(&cause));
        }
        if let Some(summary) = summary {
            f.add_summary(summary);
        }
        // The state's own counts are this execution's; a summary may be an earlier one's.
        let counts = &state["transform"]["counts"];
        if counts.is_object() {
            f.rows_read = number(&counts["rows_read"]).or(f.rows_read);
            f.courses_written = number(&counts["rows_written"]).or(f.courses_written);
            f.rejected = number(&counts["rejected"]).or(f.rejected);
            f.warnings = number(&counts["warnings"]).or(f.warnings);
            f.deletes_sent = number(&counts["deletes_sent"]).or(f.deletes_sent);
            f.deletes_suppressed = number(&counts["deletes_suppressed"]).or(f.deletes_suppressed);
        }
        if let Some(load) = load(&state["transform"]["load"]) {
            f.load = Some(load);
        }
        f.file_pushed = text(&state["push"]["file_name"]);

        let job = &state["alma_job"];
        f.alma_job_status = text(&job["status"]);
        let job_started = time(&job["started_at"]);
        let job_ended = time(&job["ended_at"]);
        if let (Some(start), Some(end)) = (job_started, job_ended) {
            f.alma_job_minutes = Some(minutes(end - start));
        }
        let report = &state["report"];
        if report.is_object() {
            f.rollovers = Some(Rollovers {
                found: number(&report["rollovers"]).unwrap_or(0),
                not_found: number(&report["not_found"]).unwrap_or(0),
                ambiguous: number(&report["ambiguous"]).unwrap_or(0),
            });
        }
        f.alma_calls = alma_calls(state, summary);
        f.timings = timings(state, summary, job_started, job_ended, now);
        f
    }

    fn add_summary(&mut self, summary: &Value) {
        let details = &summary["details"];
        self.rows_read = number(&details["rows_read"]);
        self.courses_written = number(&details["courses_written"]);
        self.rejected = number(&details["rows_rejected"]);
        self.warnings = details["warnings"].as_array().map(|w| w.len() as u64);
        self.deletes_sent = number(&details["deletes"]["sent"]);
        self.deletes_suppressed = number(&details["deletes"]["suppressed_reading_lists"]);
        self.alma_calls = number(&details["alma_calls"]);
        self.load = load(&summary["load"]);
    }

    /// Minutes from the start of the execution to its end.
    pub fn run_minutes(&self) -> Option<f64> {
        match (self.started_at, self.ended_at) {
            (Some(start), Some(end)) => Some(minutes(end - start)),
            _ => None,
        }
    }
}

fn alma_calls(state: &Value, summary: Option<&Value>) -> Option<u64> {
    let transform = summary.and_then(|s| number(&s["details"]["alma_calls"]));
    let caches: Option<u64> = state["caches"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| number(&c["api_calls"])).sum());
    let report = number(&state["report"]["api_calls"]);
    let job = &state["alma_job"];
    let looks = match text(&job["status"]).as_deref() {
        None | Some("NOT_MONITORED" | "SKIPPED" | "NOT_PUSHED") => None,
        Some(_) => number(&job["checks"]),
    };
    let parts = [transform, caches, report, looks];
    parts
        .iter()
        .any(Option::is_some)
        .then(|| parts.iter().flatten().sum())
}

fn timings(
    state: &Value,
    summary: Option<&Value>,
    job_started: Option<DateTime<Utc>>,
    job_ended: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<Timing> {
    let mut t = Vec::new();
    let mut add = |stage: &str, at: Option<DateTime<Utc>>, seconds: Option<f64>| {
        if at.is_some() || seconds.is_some() {
            t.push(Timing {
                stage: stage.to_string(),
                at,
                seconds,
            });
        }
    };
    add("Plan the run", time(&state["run"]["started_at"]), None);
    if state["transform"].is_object() {
        let made_at = summary.and_then(|s| time(&s["made_at"]));
        let ms = summary.and_then(|s| number(&s["details"]["durations_ms"]["total_ms"]));
        add(
            "Transform the export",
            made_at,
            ms.map(|ms| ms as f64 / 1000.0),
        );
    }
    let hold = &state["hold"];
    if hold.is_object() {
        add(
            "Held for a person's decision",
            time(&hold["held_since"]),
            None,
        );
    }
    add("Push to Alma SFTP", time(&state["push"]["pushed_at"]), None);
    let waited = number(&state["alma_job"]["waited_seconds"]).map(|s| s as f64);
    add("Wait for Alma", None, waited);
    add(
        "Alma's course loader job",
        job_started,
        job_started
            .zip(job_ended)
            .map(|(s, e)| (e - s).num_milliseconds() as f64 / 1000.0),
    );
    add("Release the run date", Some(now), None);
    t
}

fn load(value: &Value) -> Option<Load> {
    serde_json::from_value(value.clone()).ok()
}

fn number(value: &Value) -> Option<u64> {
    value.as_u64()
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn minutes(d: chrono::TimeDelta) -> f64 {
    // Hundredths: a sandbox's job of seconds still shows.
    (d.num_milliseconds().max(0) as f64 / 60_000.0 * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-28T18:20:00Z".parse().unwrap()
    }

    #[test]
    fn a_finished_state_gives_the_days_counts_alma_calls_and_minutes() {
        let state = json!({
            "run": {"run_date": "2026-11-28", "started_at": "2026-11-28T16:20:00.123Z",
                    "execution_name": "daily-1"},
            "transform": {"counts": {"rows_read": 100, "rows_written": 90, "rejected": 3,
                          "deletes_sent": 4, "deletes_suppressed": 2, "warnings": 5},
                          "load": {"kind": "delta", "courses": 11562, "changed": 312, "reason": null}},
            "push": {"file_name": "20261128092514.txt", "pushed_at": "2026-11-28T16:25:14Z"},
            "alma_job": {"status": "COMPLETED_SUCCESS", "checks": 2, "waited_seconds": 1200,
                         "started_at": "2026-11-28T16:31:00Z", "ended_at": "2026-11-28T16:43:30Z"},
            "caches": [{"year": 2025, "api_calls": 7}, {"year": 2026, "api_calls": 5}],
            "report": {"rollovers": 42, "not_found": 7, "ambiguous": 3, "api_calls": 1}
        });
        let summary = json!({"run_date": "2026-11-28", "made_at": "2026-11-28T16:24:00Z",
            "details": {"alma_calls": 20, "rows_read": 1, "durations_ms": {"total_ms": 4500}}});
        let f = DayFigures::from_state(date(), &state, Some(&summary), now());
        assert_eq!(f.status, Some(RunStatus::Succeeded));
        assert_eq!(
            f.rows_read,
            Some(100),
            "the state's counts win over the summary"
        );
        assert_eq!(f.courses_written, Some(90));
        assert_eq!(f.alma_calls, Some(20 + 12 + 1 + 2));
        assert_eq!(f.alma_job_minutes, Some(12.5));
        assert_eq!(f.run_minutes(), Some(120.0));
        assert_eq!(
            f.rollovers,
            Some(Rollovers {
                found: 42,
                not_found: 7,
                ambiguous: 3
            })
        );
        assert_eq!(
            f.load.as_ref().map(Load::to_string).as_deref(),
            Some("delta: 312 of 11,562 courses changed")
        );
        let stages: Vec<&str> = f.timings.iter().map(|t| t.stage.as_str()).collect();
        assert_eq!(
            stages,
            [
                "Plan the run",
                "Transform the export",
                "Push to Alma SFTP",
                "Wait for Alma",
                "Alma's course loader job",
                "Release the run date"
            ]
        );
        assert_eq!(f.timings[1].seconds, Some(4.5));
    }

    #[test]
    fn a_failed_state_names_the_state_the_error_and_its_message() {
        let state = json!({
            "run": {"run_date": "2026-11-28"},
            "failed_state": "Pull the CEM export",
            "error": {"Error": "SourceFileMissing",
                      "Cause": "{\"errorType\":\"SourceFileMissing\",\"errorMessage\":\"no export on the server\"}"}
        });
        let f = DayFigures::from_state(date(), &state, None, now());
        assert_eq!(f.status, Some(RunStatus::Failed));
        assert_eq!(f.failed_state.as_deref(), Some("Pull the CEM export"));
        assert_eq!(f.error.as_deref(), Some("SourceFileMissing"));
        assert_eq!(f.error_message.as_deref(), Some("no export on the server"));
        assert_eq!(f.alma_calls, None, "no Alma-bound stage ran");
        assert_eq!(f.courses_written, None);
    }

    #[test]
    fn a_summary_alone_gives_the_counts_it_holds_and_a_full_load_says_why() {
        let summary = json!({"run_date": "2026-11-20", "load": {"kind": "full", "courses": 9,
            "changed": 9, "reason": "no earlier day to compare with"},
            "details": {"courses_written": 9, "rows_rejected": 1, "alma_calls": 4,
                        "deletes": {"sent": 2, "suppressed_reading_lists": 1}, "warnings": [1, 2]}});
        let f = DayFigures::from_summary(&summary).unwrap();
        assert_eq!(f.run_date, NaiveDate::from_ymd_opt(2026, 11, 20).unwrap());
        assert_eq!(f.status, None);
        assert_eq!(
            (f.courses_written, f.rejected, f.deletes_sent, f.warnings),
            (Some(9), Some(1), Some(2), Some(2))
        );
        assert_eq!(
            f.load.unwrap().to_string(),
            "full load (no earlier day to compare with)"
        );
        assert_eq!(DayFigures::from_summary(&json!({})), None);
    }

    #[test]
    fn thousands_are_separated_by_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(11_562_000), "11,562,000");
    }
}
