//! The day's account, built once ([`DayReport`]): how the run ended and why, the counts,
//! the notes a person should read (terms missing from the export, the brake, an approval, a
//! forced or an already loaded push, rows dropped at the push), the stages' times, the Alma calls, Alma's job and the
//! rollovers. Built from the state the run ends with ([`RunState`]) and the day's run
//! summary; Slack, the e-mail, the day page, the metrics and `leganto status` only render
//! it. Stored beside the page as `reports/YYYY/MM/DD/figures.json`, so later pages chart it
//! without reading execution histories and `leganto status` shows it; a day with only a run
//! summary (before the report was kept) has what the summary holds.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::hold::BrakeNote;
use super::rollovers::{CheckedRollovers, PushedRollovers};
use super::rules::RulesVersion;
use super::state::RunState;
use super::summary::TransformCounts;
use super::Stage;

/// Delta or full load, as the transform decided (absent before delta loads).
pub use crate::domain::delta::{thousands, Load};

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
}

/// Rollover report counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollovers {
    pub found: u64,
    pub not_found: u64,
    pub ambiguous: u64,
    /// Of those found, how many have a course row new or changed since the delta's
    /// baseline; absent for a full load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_since_baseline: Option<u64>,
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

/// Alma's job beyond its status: whether the wait gave up, how long it was, its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlmaJobDetail {
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub waited_seconds: u64,
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

/// What a person should know beyond the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Notes {
    /// What the pull noticed on the CEM server (several exports for the day, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pull_warnings: Vec<String>,
    /// Expected terms starting soon that the day's export holds no row of (§9 term
    /// coverage), one sentence each: "the export holds no course of term 1 2027, ...".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terms_missing: Vec<String>,
    #[serde(skip_serializing_if = "BrakeNote::is_not_tripped")]
    pub brake: BrakeNote,
    /// The day's file was already loaded, pushed at this time: nothing new went up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_pushed_at: Option<DateTime<Utc>>,
    /// Pushed over another file's receipt with `"force": true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// DELETE rows the fresh guard dropped at the push: their course has reading lists now,
    /// is no longer in Alma's listing, or Alma's answer did not say.
    #[serde(skip_serializing_if = "is_zero")]
    pub deletes_dropped_at_push: u64,
    /// DELETE rows the transform did not send because Alma's reading-list answer said
    /// neither a count nor a list: many point to a change in how Alma answers.
    #[serde(skip_serializing_if = "is_zero")]
    pub deletes_unclear: u64,
    /// The approved rollovers the push sent, and those it checked and did not send.
    #[serde(skip_serializing_if = "PushedRollovers::is_empty")]
    pub rollovers_pushed: PushedRollovers,
    /// Rollovers confirmed or failed after Alma's job; the report rows the ledger holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollovers_checked: Option<CheckedRollovers>,
}

impl Notes {
    /// The rollover sentences for Slack, the e-mail, the day page and `leganto status`
    /// (course-loading.md §10); none when no rollover was approved.
    pub fn rollover_sentences(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let p = &self.rollovers_pushed;
        if !p.is_empty() {
            let counted = [
                (p.sent, "sent with the day's file"),
                (
                    p.already_has_lists,
                    "skipped: the course has reading lists already (closed)",
                ),
                (
                    p.source_has_no_lists,
                    "waiting: the old course has no reading list",
                ),
                (
                    p.next_push,
                    "left for the next push (its time to check them in Alma ran out)",
                ),
                (p.not_sent, "not sent for a reason the push log gives"),
            ];
            // The sent count always, 0 included; the others only when there are some.
            let parts: Vec<String> = counted
                .iter()
                .enumerate()
                .filter(|(i, (n, _))| *i == 0 || *n > 0)
                .map(|(_, (n, what))| format!("{n} {what}"))
                .collect();
            lines.push(format!("Rollovers: {}.", parts.join("; ")));
        }
        if let Some(c) = &self.rollovers_checked {
            if c.confirmed + c.failed > 0 {
                lines.push(format!(
                    "Rollovers after Alma's job: {} confirmed (the course has reading lists now), \
                     {} failed (no reading list; `leganto rollovers approve` sends one again).",
                    c.confirmed, c.failed
                ));
            }
            if !c.report_rows.is_empty() {
                let held: Vec<String> = c
                    .report_rows
                    .iter()
                    .map(|(stage, n)| format!("{n} {stage}"))
                    .collect();
                lines.push(format!(
                    "Of the rollover report's rows, the ledger already holds {} \
                     (rollover-marks.tsv beside the report marks each row).",
                    held.join(", ")
                ));
            }
        }
        lines
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayReport {
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
    /// The failure's cause for people ([`super::readable_cause`]).
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub execution_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_url: Option<String>,
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rows_read: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_skipped: Option<u64>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletes_not_in_alma: Option<u64>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alma_job: Option<AlmaJobDetail>,
    #[serde(default)]
    pub rollovers: Option<Rollovers>,
    #[serde(default)]
    pub timings: Vec<Timing>,
    #[serde(default)]
    pub notes: Notes,
    /// Whether Alma's job that took the day's file says it loaded (COMPLETED_SUCCESS or
    /// COMPLETED_WARNING): `None` for a run that does not judge a load (a dry run, a rerun
    /// of the report alone, a day known only from its summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded: Option<bool>,
    /// The institution rules the day followed: the transform's, else the report's (absent
    /// for a day from before rules were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesVersion>,
    /// The rules the rollover report followed, only when their text was not the
    /// transform's: rules were pushed between the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_rules: Option<RulesVersion>,
}

impl DayReport {
    fn empty(run_date: NaiveDate) -> DayReport {
        DayReport {
            run_date,
            status: None,
            dry_run: false,
            failed_state: None,
            error: None,
            error_message: None,
            execution_name: None,
            execution_url: None,
            started_at: None,
            ended_at: None,
            rows_read: None,
            rows_skipped: None,
            courses_written: None,
            rejected: None,
            warnings: None,
            deletes_sent: None,
            deletes_suppressed: None,
            deletes_not_in_alma: None,
            load: None,
            file_pushed: None,
            alma_calls: None,
            alma_job_status: None,
            alma_job_minutes: None,
            alma_job: None,
            rollovers: None,
            timings: Vec::new(),
            notes: Notes::default(),
            loaded: None,
            rules: None,
            report_rules: None,
        }
    }

    /// The commands the report's messages give name `stack`, so they run as written
    /// ([`crate::next_step::naming_the_stack`]).
    pub fn name_the_stack(&mut self, stack: &str) {
        if let Some(message) = &mut self.error_message {
            *message = crate::next_step::naming_the_stack(message, stack);
        }
    }

    /// What a stored run summary alone says of its day (`None` when it has no run date).
    pub fn from_summary(summary: &Value) -> Option<DayReport> {
        let run_date = summary
            .get("run_date")
            .and_then(Value::as_str)
            .and_then(|d| d.parse().ok())?;
        let mut report = DayReport::empty(run_date);
        report.add_summary(summary);
        Some(report)
    }

    /// The account of the run that ends with `state`, with the day's run summary when
    /// there is one, at `now`. The state's own figures win: a summary may be an earlier
    /// execution's.
    pub fn of(
        run_date: NaiveDate,
        state: &RunState,
        summary: Option<&Value>,
        now: DateTime<Utc>,
    ) -> DayReport {
        let mut r = DayReport::empty(run_date);
        r.add_run(state, now);
        if let Some(summary) = summary {
            r.add_summary(summary);
        }
        r.add_transform(state);
        r.add_push(state);
        r.add_alma_job(state);
        r.add_report_rules(state);
        r.rollovers = state.report.as_ref().map(|report| Rollovers {
            found: report.rollovers,
            not_found: report.not_found,
            ambiguous: report.ambiguous,
            new_since_baseline: report.new_since_baseline,
        });
        r.notes.rollovers_checked = state.report.as_ref().and_then(|r| r.ledger.clone());
        r.notes.pull_warnings = state.pull.iter().flat_map(|p| p.warnings.clone()).collect();
        r.alma_calls = alma_calls(state, summary);
        r.timings = timings(state, summary, now);
        r.loaded = loaded(state);
        r
    }

    /// Who ran, when, and how it ended.
    fn add_run(&mut self, state: &RunState, now: DateTime<Utc>) {
        if let Some(run) = &state.run {
            self.dry_run = run.dry_run;
            self.execution_name = Some(run.execution_name.clone()).filter(|n| !n.is_empty());
            self.execution_url = run.console_url.clone();
            self.started_at = run.started_at;
        }
        self.ended_at = Some(now);
        self.status = Some(match &state.error {
            Some(_) => RunStatus::Failed,
            None => RunStatus::Succeeded,
        });
        if let Some(error) = &state.error {
            self.failed_state = state.failed_state.clone();
            self.error = Some(error.error.clone()).filter(|e| !e.is_empty());
            self.error_message =
                Some(super::readable_cause(&error.cause)).filter(|c| !c.is_empty());
        }
    }

    fn add_summary(&mut self, summary: &Value) {
        let details = &summary["details"];
        self.rows_read = number(&details["rows_read"]);
        self.rows_skipped = number(&details["rows_skipped"]);
        self.courses_written = number(&details["courses_written"]);
        self.rejected = number(&details["rows_rejected"]);
        self.warnings = details["warnings"].as_array().map(|w| w.len() as u64);
        self.deletes_sent = number(&details["deletes"]["sent"]);
        self.deletes_suppressed = number(&details["deletes"]["suppressed_reading_lists"]);
        self.deletes_not_in_alma = number(&details["deletes"]["not_in_alma"]);
        self.notes.deletes_unclear = number(&details["deletes"]["suppressed_unclear"]).unwrap_or(0);
        self.alma_calls = number(&details["alma_calls"]);
        self.load = serde_json::from_value(summary["load"].clone()).ok();
        self.rules = serde_json::from_value(summary["rules"].clone()).unwrap_or_default();
        // The step's output is flattened into the summary: the terms missing lead its warnings.
        let missing = number(&summary["counts"]["terms_missing"]).unwrap_or(0);
        self.notes.terms_missing = summary["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .take(usize::try_from(missing).unwrap_or(usize::MAX))
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect();
    }

    fn add_transform(&mut self, state: &RunState) {
        let Some(t) = &state.transform else { return };
        let c = &t.counts;
        self.rows_read = Some(c.rows_read);
        self.rows_skipped = Some(c.rows_skipped);
        self.courses_written = Some(c.rows_written);
        self.rejected = Some(c.rejected);
        self.warnings = Some(c.warnings);
        self.deletes_sent = Some(c.deletes_sent);
        self.deletes_suppressed = Some(c.deletes_suppressed);
        self.deletes_not_in_alma = Some(c.deletes_not_in_alma);
        self.notes.deletes_unclear = c.deletes_unclear;
        self.notes.terms_missing = t.terms_missing().to_vec();
        if t.load.is_some() {
            self.load = t.load.clone();
        }
        if t.rules.is_some() {
            self.rules = t.rules.clone();
        }
        self.notes.brake = BrakeNote::of(&t.brake, state.hold.as_ref(), self.dry_run);
    }

    fn add_push(&mut self, state: &RunState) {
        let Some(push) = &state.push else { return };
        self.file_pushed = Some(push.file_name.clone());
        self.notes.already_pushed_at = push.already_there.then_some(push.pushed_at);
        self.notes.forced = push.forced;
        self.notes.deletes_dropped_at_push = push.deletes_dropped_at_push;
        self.notes.rollovers_pushed = push.rollovers.clone();
    }

    /// The report's rules: the day's when the transform's are unknown (a rerun of the
    /// report alone), noted apart when their text differs.
    fn add_report_rules(&mut self, state: &RunState) {
        let Some(report) = state.report.as_ref().and_then(|r| r.rules.as_ref()) else {
            return;
        };
        match &self.rules {
            None => self.rules = Some(report.clone()),
            Some(day) if day.sha256 != report.sha256 => self.report_rules = Some(report.clone()),
            Some(_) => {}
        }
    }

    fn add_alma_job(&mut self, state: &RunState) {
        let Some(job) = &state.alma_job else { return };
        self.alma_job_status = Some(job.status.clone());
        if let (Some(start), Some(end)) = (job.started_at, job.ended_at) {
            self.alma_job_minutes = Some(minutes(end - start));
        }
        self.alma_job = Some(AlmaJobDetail {
            timed_out: job.timed_out,
            waited_seconds: job.waited_seconds,
            counters: job.counters.clone(),
        });
    }

    /// The transform's counts as Slack and the e-mail print them (0 where unknown).
    pub fn counts(&self) -> TransformCounts {
        let n = |v: Option<u64>| v.unwrap_or(0);
        TransformCounts {
            rows_read: n(self.rows_read),
            rows_skipped: n(self.rows_skipped),
            rows_written: n(self.courses_written),
            rejected: n(self.rejected),
            deletes_sent: n(self.deletes_sent),
            deletes_suppressed: n(self.deletes_suppressed),
            deletes_not_in_alma: n(self.deletes_not_in_alma),
            warnings: n(self.warnings),
            rows_in_file: 0,
            deletes_unclear: self.notes.deletes_unclear,
            terms_missing: self.notes.terms_missing.len() as u64,
        }
    }

    /// Minutes from the start of the execution to its end.
    pub fn run_minutes(&self) -> Option<f64> {
        match (self.started_at, self.ended_at) {
            (Some(start), Some(end)) => Some(minutes(end - start)),
            _ => None,
        }
    }
}

/// Done means done in Alma: a live run that pushed or waited for the day (not a rerun of
/// the report alone) loaded it only when Alma's job for its file says so.
fn loaded(state: &RunState) -> Option<bool> {
    let run = state.run.as_ref()?;
    if run.dry_run || run.start_at > Stage::WaitForAlma {
        return None;
    }
    let job = state.alma_job.as_ref();
    Some(job.is_some_and(|job| job.done && super::baseline::loaded(&job.status)))
}

fn alma_calls(state: &RunState, summary: Option<&Value>) -> Option<u64> {
    let transform = summary.and_then(|s| number(&s["details"]["alma_calls"]));
    let caches: Option<u64> = state
        .caches
        .as_ref()
        .map(|c| c.iter().map(|c| c.api_calls).sum());
    let report = state.report.as_ref().map(|r| r.api_calls);
    let looks = state
        .alma_job
        .as_ref()
        .and_then(|job| match job.status.as_str() {
            "NOT_MONITORED" | "SKIPPED" | "NOT_PUSHED" => None,
            _ => Some(job.checks),
        });
    let parts = [transform, caches, report, looks];
    parts
        .iter()
        .any(Option::is_some)
        .then(|| parts.iter().flatten().sum())
}

fn timings(state: &RunState, summary: Option<&Value>, now: DateTime<Utc>) -> Vec<Timing> {
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
    add(
        "Plan the run",
        state.run.as_ref().and_then(|r| r.started_at),
        None,
    );
    if state.transform.is_some() {
        let made_at = summary.and_then(|s| time(&s["made_at"]));
        let ms = summary.and_then(|s| number(&s["details"]["durations_ms"]["total_ms"]));
        add(
            "Transform the export",
            made_at,
            ms.map(|ms| ms as f64 / 1000.0),
        );
    }
    let hold = state.hold.as_ref().map(|h| h.held_since);
    add("Held for a person's decision", hold, None);
    add(
        "Push to Alma SFTP",
        state.push.as_ref().map(|p| p.pushed_at),
        None,
    );
    let job = state.alma_job.as_ref();
    let waited = job.map(|j| j.waited_seconds as f64);
    add("Wait for Alma", None, waited);
    let (job_started, job_ended) = (job.and_then(|j| j.started_at), job.and_then(|j| j.ended_at));
    let job_seconds = job_started
        .zip(job_ended)
        .map(|(s, e)| (e - s).num_milliseconds() as f64 / 1000.0);
    add("Alma's course loader job", job_started, job_seconds);
    add("Release the run date", Some(now), None);
    t
}

fn number(value: &Value) -> Option<u64> {
    value.as_u64()
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

    #[test]
    fn rollover_sentences_count_what_was_sent_skipped_and_judged_and_say_nothing_without_any() {
        assert!(Notes::default().rollover_sentences().is_empty());
        let notes = Notes {
            rollovers_pushed: PushedRollovers {
                sent: 184,
                already_has_lists: 1,
                source_has_no_lists: 2,
                not_sent: 0,
                next_push: 0,
            },
            rollovers_checked: Some(CheckedRollovers {
                confirmed: 183,
                failed: 1,
                report_rows: [("confirmed".to_string(), 183)].into_iter().collect(),
                marks_key: None,
            }),
            ..Notes::default()
        };
        assert_eq!(
            notes.rollover_sentences(),
            vec![
                "Rollovers: 184 sent with the day's file; 1 skipped: the course has reading \
                 lists already (closed); 2 waiting: the old course has no reading list."
                    .to_string(),
                "Rollovers after Alma's job: 183 confirmed (the course has reading lists now), \
                 1 failed (no reading list; `leganto rollovers approve` sends one again)."
                    .to_string(),
                "Of the rollover report's rows, the ledger already holds 183 confirmed \
                 (rollover-marks.tsv beside the report marks each row)."
                    .to_string(),
            ]
        );
    }

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
            "transform": {"loader_key": "alma/2026/11/28/20261128092514.txt",
                          "loader_file_name": "20261128092514.txt",
                          "summary_key": "reports/2026/11/28/run-summary.json",
                          "rejects_key": "reports/2026/11/28/rejects.csv", "counts": {"rows_read": 100, "rows_written": 90, "rejected": 3,
                          "deletes_sent": 4, "deletes_suppressed": 2, "warnings": 5},
                          "load": {"kind": "delta", "courses": 11562, "changed": 312, "reason": null}},
            "push": {"file_name": "20261128092514.txt", "bytes": 10,
                     "pushed_at": "2026-11-28T16:25:14Z"},
            "alma_job": {"done": true, "status": "COMPLETED_SUCCESS", "checks": 2, "waited_seconds": 1200,
                         "started_at": "2026-11-28T16:31:00Z", "ended_at": "2026-11-28T16:43:30Z"},
            "caches": [{"year": 2025, "cache_key": "a", "courses": 1, "api_calls": 7},
                       {"year": 2026, "cache_key": "b", "courses": 1, "api_calls": 5}],
            "report": {"report_key": "k", "report_file_name": "f", "rollovers": 42,
                       "not_found": 7, "ambiguous": 3, "api_calls": 1}
        });
        let summary = json!({"run_date": "2026-11-28", "made_at": "2026-11-28T16:24:00Z",
            "details": {"alma_calls": 20, "rows_read": 1, "durations_ms": {"total_ms": 4500}}});
        let f = DayReport::of(date(), &RunState::from_value(&state), Some(&summary), now());
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
                ambiguous: 3,
                new_since_baseline: None,
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
        let f = DayReport::of(date(), &RunState::from_value(&state), None, now());
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
        let f = DayReport::from_summary(&summary).unwrap();
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
        assert_eq!(DayReport::from_summary(&json!({})), None);
    }

    #[test]
    fn the_day_names_its_rules_from_the_state_or_the_summary_and_notes_a_report_s_other_rules() {
        let rules = |id: &str, sha: &str| json!({"origin": "s3", "location": "config/rules.toml", "version_id": id, "sha256": sha});
        let summary = json!({"run_date": "2026-11-28", "rules": rules("v1", "aa")});
        let from_summary = DayReport::from_summary(&summary).unwrap();
        assert_eq!(
            from_summary.rules.unwrap().version_id.as_deref(),
            Some("v1")
        );
        let old = json!({"run_date": "2026-11-28"});
        assert_eq!(DayReport::from_summary(&old).unwrap().rules, None);

        let transform = json!({"loader_key": "k", "loader_file_name": "f", "summary_key": "s",
            "rejects_key": "r", "rules": rules("v2", "bb")});
        let report = |r: Value| {
            json!({"report_key": "k", "report_file_name": "f", "rollovers": 0, "not_found": 0,
                   "ambiguous": 0, "rules": r})
        };
        let of = |state: Value| {
            DayReport::of(date(), &RunState::from_value(&state), Some(&summary), now())
        };
        let same = of(json!({"transform": transform, "report": report(rules("v3", "bb"))}));
        assert_eq!(same.rules.unwrap().version_id.as_deref(), Some("v2"));
        assert_eq!(
            same.report_rules, None,
            "the same text under another version"
        );
        let other = of(json!({"transform": transform, "report": report(rules("v4", "cc"))}));
        assert_eq!(
            other.report_rules.unwrap().version_id.as_deref(),
            Some("v4")
        );
        let report_alone = DayReport::of(
            date(),
            &RunState::from_value(&json!({"report": report(rules("v5", "dd"))})),
            None,
            now(),
        );
        assert_eq!(
            report_alone.rules.unwrap().version_id.as_deref(),
            Some("v5")
        );
        assert_eq!(report_alone.report_rules, None);
    }

    #[test]
    fn a_day_is_loaded_only_when_alma_s_job_for_its_file_says_so() {
        let state = |start_at: &str, dry_run: bool, job: Value| {
            RunState::from_value(&json!({
                "run": {"run_date": "2026-11-28", "start_at": start_at, "dry_run": dry_run},
                "alma_job": job,
            }))
        };
        let job = |status: &str| json!({"done": true, "status": status});
        let loaded = |s: RunState| DayReport::of(date(), &s, None, now()).loaded;
        assert_eq!(
            loaded(state("pull", false, job("COMPLETED_SUCCESS"))),
            Some(true)
        );
        assert_eq!(
            loaded(state("push", false, job("COMPLETED_WARNING"))),
            Some(true)
        );
        for status in ["COMPLETED_FAILED", "NOT_MONITORED", "SKIPPED"] {
            assert_eq!(
                loaded(state("pull", false, job(status))),
                Some(false),
                "{status}"
            );
        }
        let timed_out = json!({"done": false, "timed_out": true, "status": "RUNNING"});
        assert_eq!(
            loaded(state("wait_for_alma", false, timed_out)),
            Some(false)
        );
        assert_eq!(
            loaded(state("pull", false, Value::Null)),
            Some(false),
            "failed before"
        );
        assert_eq!(loaded(state("pull", true, job("COMPLETED_SUCCESS"))), None);
        assert_eq!(loaded(state("rollover_report", false, Value::Null)), None);
    }

    #[test]
    fn the_terms_missing_lead_the_transforms_warnings_and_become_notes() {
        let missing =
            "the export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)";
        let transform = json!({"loader_key": "k", "loader_file_name": "f", "summary_key": "s",
            "rejects_key": "r", "counts": {"rows_read": 10, "terms_missing": 1},
            "warnings": [missing, "line 2 C-1: unknown campus \"X\", processing department HAYDEN"]});
        let state = json!({"run": {"run_date": "2026-12-06"}, "transform": transform});
        let f = DayReport::of(date(), &RunState::from_value(&state), None, now());
        assert_eq!(f.notes.terms_missing, [missing]);
        assert_eq!(f.counts().terms_missing, 1);
        // The run summary alone says the same (the step's output is flattened into it).
        let mut summary = transform.clone();
        summary["run_date"] = json!("2026-12-06");
        let f = DayReport::from_summary(&summary).unwrap();
        assert_eq!(f.notes.terms_missing, [missing]);
        // A summary from before term coverage has none.
        let mut old = summary.clone();
        old["counts"] = json!({"rows_read": 10});
        assert!(DayReport::from_summary(&old)
            .unwrap()
            .notes
            .terms_missing
            .is_empty());
    }

    #[test]
    fn thousands_are_separated_by_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(11_562_000), "11,562,000");
    }

    #[test]
    fn the_commands_of_a_failure_name_the_stack() {
        let mut f = DayReport::empty("2026-11-28".parse().unwrap());
        f.error_message =
            Some("approve it (leganto approve --run-date 2026-11-28) and rerun it".into());
        f.name_the_stack("leganto-prod");
        assert_eq!(
            f.error_message.as_deref(),
            Some("approve it (leganto approve --stack leganto-prod --run-date 2026-11-28) and rerun it")
        );
    }
}
