//! Check the course loader job: through Alma's Jobs API, the first run of the course loader
//! submitted after our push; whether it is done, its status and counters, and whether the
//! wait has gone on too long. Without a job to watch, waits the fixed time instead.

use crate::run::outputs::AlmaJobOutput;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;

use super::{RunInfo, StepContext, StepError};
use crate::alma::{run_time, AlmaClient, JobInstance, JobRuns};
use crate::run::alma_rate::AlmaCaller;
use crate::run::limits;
use crate::run::outputs::PushOutput;

/// Alma and we do not share a clock: a run submitted this long before the file's stamp
/// (the start of its upload) still counts. Small, so an earlier day's run or a run that
/// found nothing just before the upload is not taken for ours.
pub const CLOCK_SLACK_SECONDS: i64 = 30;

#[derive(Debug, Clone, Deserialize)]
pub struct CheckJobInput {
    pub run: RunInfo,
    #[serde(default)]
    pub push: Option<PushOutput>,
    /// The previous check's answer (from the second check on).
    #[serde(default)]
    pub alma_job: Option<AlmaJobOutput>,
}

impl AlmaJobOutput {
    /// Within the state's limits (see [`limits`]): Alma's status, id and counter names
    /// short, and a few counters, the last saying how many more Alma reported.
    pub fn bounded(mut self) -> AlmaJobOutput {
        self.status = limits::clip(&self.status, limits::NAME_BYTES);
        self.job_instance_id = self
            .job_instance_id
            .map(|id| limits::clip(&id, limits::NAME_BYTES));
        let all = std::mem::take(&mut self.counters);
        let more = all.len().saturating_sub(limits::COUNTERS);
        self.counters = all
            .into_iter()
            .take(limits::COUNTERS)
            .map(|(k, v)| (limits::clip(&k, limits::NAME_BYTES), v))
            .collect();
        if more > 0 {
            self.counters
                .insert(format!("… and {more} more counters in Alma"), more as u64);
        }
        self
    }
}

pub const NOT_STARTED: &str = "NOT_STARTED";
pub const NOT_MONITORED: &str = "NOT_MONITORED";
pub const NOT_PUSHED: &str = "NOT_PUSHED";

/// Counters keyed by the last part of Alma's type (`course_loader.courses_created` →
/// `courses_created`), or the whole type when two would share a key.
pub fn counters_of(instance: &JobInstance) -> BTreeMap<String, u64> {
    let short = |t: &str| t.rsplit('.').next().unwrap_or(t).to_string();
    let mut out = BTreeMap::new();
    for (kind, _, value) in &instance.counters {
        let clash = instance
            .counters
            .iter()
            .filter(|(other, _, _)| short(other) == short(kind))
            .count()
            > 1;
        let key = if clash { kind.clone() } else { short(kind) };
        out.insert(key, *value);
    }
    out
}

/// The earliest time a run of ours may have been submitted: when the file's upload began
/// (its name is that local time, course-loading.md §5), else the push, less the clock
/// slack. Alma's loader takes a file only at a run after it appeared.
pub fn earliest_submit(push: &PushOutput, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let slack = Duration::seconds(CLOCK_SLACK_SECONDS);
    let pushed = push.pushed_at - slack;
    let made = crate::store::stamp_of_file(&push.file_name)
        .and_then(|local| tz.from_local_datetime(&local).earliest())
        .map(|t| t.with_timezone(&Utc) - slack);
    made.map_or(pushed, |m| m.min(pushed))
}

/// The first run submitted (else started) at or after `since`, by those times (never by
/// the order Alma listed the runs in, which it does not promise), that did not end finding
/// nothing: a run that found no file (COMPLETED_NO_BULKS) did not take ours.
pub fn our_run(instances: &[JobInstance], since: DateTime<Utc>) -> Option<&JobInstance> {
    instances
        .iter()
        .filter(|i| i.status.as_str() != "COMPLETED_NO_BULKS")
        .filter_map(|i| run_time(i).map(|t| (t, i)))
        .filter(|(t, _)| *t >= since)
        .min_by(|(a, ia), (b, ib)| a.cmp(b).then_with(|| ia.id.cmp(&ib.id)))
        .map(|(_, i)| i)
}

/// How long the run has waited for Alma since the push, against its limit.
#[derive(Debug, Clone, Copy)]
struct Waited {
    seconds: u64,
    enough: bool,
}

impl Waited {
    fn since(push: &PushOutput, now: DateTime<Utc>, limit_seconds: u64) -> Waited {
        let seconds = u64::try_from((now - push.pushed_at).num_seconds()).unwrap_or(0);
        Waited {
            seconds,
            enough: seconds >= limit_seconds,
        }
    }
}

pub async fn run(ctx: &StepContext, input: CheckJobInput) -> Result<AlmaJobOutput, StepError> {
    let checks = input.alma_job.as_ref().map_or(0, |j| j.checks) + 1;
    let Some(push) = &input.push else {
        return Ok(nothing_pushed(checks));
    };
    let wait_limit = match input.run.wait_limit_seconds {
        0 => ctx.config.wait.limit.as_secs(),
        n => n,
    };
    let waited = Waited::since(push, ctx.now(), wait_limit);

    let mut alma = None;
    let Some(job_id) = loader_job_id(ctx, &mut alma).await? else {
        return Ok(not_monitored(waited, wait_limit, checks));
    };

    let since = earliest_submit(push, ctx.config.time_zone);
    let runs = runs_since(ctx, alma, &job_id, since).await?;
    let ours = ours_among(&runs, &job_id, since);
    let mut output = job_output(ours, waited, checks).bounded();
    promote_baseline_once_loaded(ctx, &input.run, &mut output).await;
    tracing::info!(
        job_id = %job_id,
        instance = output.job_instance_id.as_deref().unwrap_or(""),
        status = %output.status,
        done = output.done,
        timed_out = output.timed_out,
        checks,
        waited_seconds = waited.seconds,
        pages = runs.pages,
        "checked the course loader job"
    );
    Ok(output)
}

/// The check's answer when nothing was pushed: no course loader run to wait for.
fn nothing_pushed(checks: u64) -> AlmaJobOutput {
    tracing::info!("nothing was pushed; no course loader run to wait for");
    AlmaJobOutput {
        done: true,
        status: NOT_PUSHED.into(),
        checks,
        ..AlmaJobOutput::default()
    }
}

/// The check's answer without a course loader job to watch: done once the wait is over.
fn not_monitored(waited: Waited, wait_limit: u64, checks: u64) -> AlmaJobOutput {
    // The original slept a fixed time; so do we, in polls, then go on.
    tracing::info!(
        waited_seconds = waited.seconds,
        wait_limit,
        "no course loader job to watch"
    );
    AlmaJobOutput {
        done: waited.enough,
        status: NOT_MONITORED.into(),
        checks,
        waited_seconds: waited.seconds,
        ..AlmaJobOutput::default()
    }
}

/// The job's runs from Alma submitted since the day before `since`; through `alma` when the
/// job's lookup already made a client.
async fn runs_since(
    ctx: &StepContext,
    alma: Option<AlmaClient>,
    job_id: &str,
    since: DateTime<Utc>,
) -> Result<JobRuns, StepError> {
    // Alma filters by submit date (a day); ask from the day before so no time zone hides it.
    let from = since.date_naive().pred_opt().unwrap_or(since.date_naive());
    let alma = match alma {
        Some(alma) => alma,
        None => ctx.alma_for(AlmaCaller::CheckJob).await?,
    };
    // Every page since then (Alma promises no order), so a busy job's later runs cannot
    // hide ours.
    let runs = alma
        .job_instances_back_to(job_id, from, Some(since))
        .await?;
    Ok(runs)
}

/// Our run among those read ([`our_run`]), when every run since the push was read.
fn ours_among<'a>(
    runs: &'a JobRuns,
    job_id: &str,
    since: DateTime<Utc>,
) -> Option<&'a JobInstance> {
    if runs.complete {
        our_run(&runs.instances, since)
    } else {
        // Ours is the oldest since the push, among the runs not read: none is sure.
        tracing::warn!(
            job_id = %job_id,
            pages = runs.pages,
            "the course loader job ran more often since the push than the pages read; check \
             ALMA_LOADER_JOB_ID names the course loader's own job"
        );
        None
    }
}

/// Once Alma has loaded the day, its course rows become the baseline of delta loads.
async fn promote_baseline_once_loaded(
    ctx: &StepContext,
    run: &RunInfo,
    output: &mut AlmaJobOutput,
) {
    if output.done && crate::run::baseline::loaded(&output.status) {
        // A baseline not saved costs only a bigger file tomorrow: never fail the check.
        match crate::run::baseline::promote(&ctx.store, run, &output.status, ctx.now()).await {
            Ok(saved) => output.baseline_saved = saved,
            Err(e) => {
                tracing::warn!(error = %e, "the day's course rows could not become the baseline")
            }
        }
    }
}

/// The course loader job to watch: the configured id (an override), else the scheduled
/// job of the configured profile (looked up in Alma, whose client is kept in `alma` for the next
/// call), else none.
async fn loader_job_id(
    ctx: &StepContext,
    alma: &mut Option<AlmaClient>,
) -> Result<Option<String>, StepError> {
    if let Some(id) = &ctx.config.alma.loader_job_id {
        return Ok(Some(id.clone()));
    }
    let Some(profile) = &ctx.config.alma.loader_profile_id else {
        return Ok(None);
    };
    let client = alma.insert(ctx.alma_for(AlmaCaller::CheckJob).await?);
    let job = client.find_scheduled_job(profile).await?.map(|job| job.id);
    if job.is_none() {
        tracing::warn!(
            profile = %profile,
            "Alma has no scheduled job for ALMA_LOADER_PROFILE_ID; waiting the fixed time instead"
        );
    }
    Ok(job)
}

/// The check's answer for our run of the job, or for none yet.
fn job_output(instance: Option<&JobInstance>, waited: Waited, checks: u64) -> AlmaJobOutput {
    let Some(instance) = instance else {
        return AlmaJobOutput {
            done: false,
            timed_out: waited.enough,
            status: NOT_STARTED.into(),
            checks,
            waited_seconds: waited.seconds,
            ..AlmaJobOutput::default()
        };
    };
    let done = instance.status.is_done();
    AlmaJobOutput {
        done,
        timed_out: !done && waited.enough,
        status: instance.status.as_str().to_string(),
        job_instance_id: Some(instance.id.clone()),
        started_at: instance.start_time,
        ended_at: instance.end_time,
        counters: counters_of(instance),
        checks,
        waited_seconds: waited.seconds,
        baseline_saved: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alma::JobStatus;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn instance(id: &str, submit: &str, status: &str) -> JobInstance {
        JobInstance {
            id: id.into(),
            submit_time: Some(at(submit)),
            start_time: None,
            end_time: None,
            status: JobStatus::from_value(status),
            status_desc: String::new(),
            progress: 0.0,
            counters: vec![
                ("course_loader.courses_created".into(), "Created".into(), 10),
                ("a.rows".into(), "Rows".into(), 1),
                ("b.rows".into(), "Rows".into(), 2),
            ],
            alerts: vec![],
        }
    }

    fn push(pushed_at: &str, file_name: &str, already_there: bool) -> PushOutput {
        PushOutput {
            file_name: file_name.into(),
            remote_path: None,
            bytes: 1,
            pushed_at: at(pushed_at),
            already_there,
            ..PushOutput::default()
        }
    }

    #[test]
    fn the_first_run_after_the_push_is_ours() {
        let runs = [
            instance("1", "2026-11-28T10:00:00Z", "COMPLETED_SUCCESS"),
            instance("3", "2026-11-28T17:00:00Z", "QUEUED"),
            instance("2", "2026-11-28T16:30:00Z", "RUNNING"),
        ];
        let since = earliest_submit(
            &push("2026-11-28T16:25:14Z", "20261128092514.txt", false),
            chrono_tz::America::Phoenix,
        );
        assert_eq!(our_run(&runs, since).unwrap().id, "2");
        assert!(our_run(&runs[..1], since).is_none());
        // Listed oldest first, or any other way: the same run.
        let mut reversed = runs.to_vec();
        reversed.reverse();
        assert_eq!(our_run(&reversed, since).unwrap().id, "2");
        reversed.sort_by_key(|r| r.submit_time);
        assert_eq!(our_run(&reversed, since).unwrap().id, "2");
    }

    #[test]
    fn a_run_that_found_nothing_or_ran_before_the_upload_is_not_ours() {
        // Uploaded from 14:00:05 in Phoenix (21:00:05 UTC).
        let since = earliest_submit(
            &push("2026-11-28T21:00:07Z", "20261128140005.txt", false),
            chrono_tz::America::Phoenix,
        );
        let runs = [
            // The morning's day, and the loader's empty run a minute before the upload.
            instance("1", "2026-11-28T18:00:00Z", "COMPLETED_SUCCESS"),
            instance("2", "2026-11-28T20:59:00Z", "COMPLETED_NO_BULKS"),
            // An empty run right as the file went up, then the one that took it.
            instance("3", "2026-11-28T21:00:06Z", "COMPLETED_NO_BULKS"),
            instance("4", "2026-11-28T21:05:00Z", "COMPLETED_SUCCESS"),
        ];
        assert_eq!(our_run(&runs, since).unwrap().id, "4");
    }

    #[test]
    fn a_file_already_there_counts_from_when_it_was_made() {
        // Made 09:25:14 in Phoenix = 16:25:14 UTC; the rerun's check came two hours later.
        let p = push("2026-11-28T18:30:00Z", "20261128092514.txt", true);
        assert_eq!(
            earliest_submit(&p, chrono_tz::America::Phoenix),
            at("2026-11-28T16:24:44Z")
        );
    }

    #[test]
    fn a_run_with_thousands_of_long_counters_stays_within_the_output_budget() {
        let mut run = instance("1", "2026-11-28T10:00:00Z", &"S".repeat(10_000));
        run.id = "7".repeat(10_000);
        run.counters = (0..5000)
            .map(|i| (format!("c{i:04}.{}", "\"".repeat(1000)), String::new(), i))
            .collect();
        let waited = Waited {
            seconds: 60,
            enough: false,
        };
        let output = job_output(Some(&run), waited, 3).bounded();
        assert_eq!(output.counters.len(), limits::COUNTERS + 1);
        assert_eq!(
            output.counters.get("… and 4960 more counters in Alma"),
            Some(&4960)
        );
        let json = serde_json::to_string(&output).unwrap();
        assert!(
            json.len() < limits::STEP_OUTPUT_BUDGET,
            "{} bytes",
            json.len()
        );
        let short = job_output(
            Some(&instance("1", "2026-11-28T10:00:00Z", "RUNNING")),
            waited,
            1,
        );
        assert_eq!(short.clone().bounded(), short);
    }

    #[test]
    fn counters_use_short_names_unless_they_clash() {
        let c = counters_of(&instance("1", "2026-11-28T10:00:00Z", "RUNNING"));
        assert_eq!(c.get("courses_created"), Some(&10));
        assert_eq!(c.get("a.rows"), Some(&1));
        assert_eq!(c.get("b.rows"), Some(&2));
    }
}
