//! `leganto status`: what S3 holds for a run date and the executions that ran for it.

use chrono::{DateTime, NaiveDate, Utc};
use leganto_shared::ops::account::{collapse, span, Entry, Visit};
use leganto_shared::ops::status::{self, DayFiles, ExecutionInfo, Summary};
use leganto_shared::page;
use leganto_shared::run::hold::BrakeNote;
use leganto_shared::run::readable_cause;
use leganto_shared::run::report::{DayReport, RunStatus};
use leganto_shared::store::{DayKeys, ObjectInfo};

use super::status_json;
use crate::common::{fatal, local_time, run_date, write_atomic, Deployment, Fatal, Resolved};

#[derive(clap::Args)]
pub struct Args {
    /// The day to look at (YYYY-MM-DD) [default: today in the library's time zone].
    #[arg(long)]
    run_date: Option<NaiveDate>,
    /// Download the day page and open it (with xdg-open where there is one).
    #[arg(long)]
    open: bool,
    /// `text` for people; `json` for scripts: one document (docs/operating.md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(flatten)]
    deployment: Deployment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub async fn run(args: Args) -> Result<(), Fatal> {
    let deployment = args.deployment.resolve().await?;
    let tz = deployment.time_zone;
    let run_date = run_date(args.run_date, tz);
    let files = status::day_files(&deployment.store(), run_date)
        .await
        .map_err(|e| deployment.fatal(e))?;
    let executions = status::executions_for_day(
        &deployment.sfn(),
        &deployment.state_machine_arn,
        run_date,
        tz,
    )
    .await
    .map_err(|e| deployment.fatal(e))?;
    let page_key = DayKeys::new(run_date).day_page();
    let has_page = files.other_reports.iter().any(|o| o.key == page_key);
    let region = page::console_region(
        &deployment.state_machine_arn,
        deployment.sdk.region().map(|r| r.as_ref()),
    );
    if args.output == Format::Json {
        let day_page = has_page.then(|| page_location(&files.bucket, &page_key, region));
        print_json(&files, &executions, &deployment, day_page);
        return Ok(());
    }
    // The causes and next steps it shows give commands: they name this stack.
    let report = deployment.naming_the_stack(&render(
        &files,
        &executions,
        &deployment.state_machine_arn,
        tz,
    ));
    // The page's location right after the day's files, before the executions.
    let page = page_lines(&files.bucket, &page_key, has_page, region);
    match report.find("Executions for ") {
        Some(at) => print!("{}{page}{}", &report[..at], &report[at..]),
        None => print!("{report}{page}"),
    }
    if args.open && has_page {
        let bytes = deployment
            .store()
            .get(&page_key)
            .await
            .map_err(|e| fatal(e.into()))?;
        let path = std::env::temp_dir().join(format!("leganto-day-{run_date}.html"));
        write_atomic(&path, &bytes)?;
        open_locally(&path);
    }
    Ok(())
}

/// The day as one JSON document (`--output json`).
fn print_json(
    files: &DayFiles,
    executions: &[ExecutionInfo],
    deployment: &Resolved,
    day_page: Option<(String, Option<String>)>,
) {
    let about = status_json::About {
        stack: deployment.stack.as_deref(),
        state_machine_arn: &deployment.state_machine_arn,
        time_zone: deployment.time_zone,
        day_page,
    };
    println!("{:#}", status_json::document(files, executions, &about));
}

/// The day page's S3 URI and, when the region is known, its console link.
fn page_location(bucket: &str, page_key: &str, region: Option<&str>) -> (String, Option<String>) {
    let uri = format!("s3://{bucket}/{page_key}");
    (
        uri,
        region.map(|r| page::s3_console_url(r, bucket, page_key)),
    )
}

/// Where the day page is: its S3 URI and console link, or that there is none yet.
pub fn page_lines(bucket: &str, page_key: &str, has_page: bool, region: Option<&str>) -> String {
    if !has_page {
        return "  day page         none yet (written when a run for the day ends)\n".to_string();
    }
    let mut out = format!("  day page         s3://{bucket}/{page_key}\n");
    if let Some(region) = region {
        out.push_str(&format!(
            "                   {}\n",
            page::s3_console_url(region, bucket, page_key)
        ));
    }
    out
}

/// Opens `path` with xdg-open when the machine has it; else says where the copy is.
fn open_locally(path: &std::path::Path) {
    let opened = std::process::Command::new("xdg-open")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if opened {
        println!("Opened a local copy: {}", path.display());
    } else {
        println!(
            "Saved a local copy (open it in a browser): {}",
            path.display()
        );
    }
}

fn object_line(label: &str, o: &ObjectInfo, tz: chrono_tz::Tz) -> String {
    let when = o
        .last_modified
        .map(|t| format!(", {}", local_time(t, tz)))
        .unwrap_or_default();
    format!("  {label:<16} {}  ({} bytes{when})\n", o.key, o.size)
}

fn objects(out: &mut String, label: &str, list: &[ObjectInfo], tz: chrono_tz::Tz) {
    if list.is_empty() {
        out.push_str(&format!("  {label:<16} none\n"));
    }
    for o in list {
        out.push_str(&object_line(label, o, tz));
    }
}

/// The report as printed.
pub fn render(
    files: &DayFiles,
    executions: &[ExecutionInfo],
    state_machine_arn: &str,
    tz: chrono_tz::Tz,
) -> String {
    let mut out = format!("Run date {} in s3://{}\n", files.run_date, files.bucket);
    out.push_str(&file_lines(files, tz));
    out.push_str(&push_lines(files, tz));
    out.push_str(&summary_lines(&files.summary));
    if let Some(report) = &files.report {
        out.push_str(&report_lines(report));
    }
    out.push_str(&format!(
        "Executions for {} of {state_machine_arn}\n",
        files.run_date
    ));
    if executions.is_empty() {
        out.push_str("  none\n");
    }
    for e in executions {
        out.push_str(&execution_lines(e, tz));
    }
    out
}

fn file_lines(files: &DayFiles, tz: chrono_tz::Tz) -> String {
    let mut out = String::new();
    objects(&mut out, "export", &files.exports, tz);
    objects(&mut out, "loader file", &files.loader_files, tz);
    objects(&mut out, "rejects", files.rejects.as_slice(), tz);
    objects(&mut out, "rollover report", &files.rollover_reports, tz);
    objects(&mut out, "course cache", &files.caches, tz);
    for o in &files.other_reports {
        out.push_str(&object_line("other", o, tz));
    }
    out
}

/// The day's push receipt and lease.
fn push_lines(files: &DayFiles, tz: chrono_tz::Tz) -> String {
    let mut out = match &files.pushed {
        None => "  pushed           none\n".to_string(),
        Some(r) => format!(
            "  pushed           {} at {} by {}{}\n",
            r.file_name,
            local_time(r.pushed_at, tz),
            r.execution_name,
            if r.forced { " (forced)" } else { "" }
        ),
    };
    if let Some(lease) = &files.lease {
        out.push_str(&format!(
            "  held by          {} since {} (the lease runs out {})\n",
            lease.execution_name,
            local_time(lease.started_at, tz),
            local_time(lease.expires_at, tz)
        ));
    }
    out
}

fn summary_lines(summary: &Summary) -> String {
    let s = match summary {
        Summary::Missing => return "  run summary      none\n".to_string(),
        Summary::Unreadable(why) => return format!("  run summary      unreadable: {why}\n"),
        Summary::Read(s) => s,
    };
    let mut out = format!("  run summary      {}\n", s.key);
    if let Some(at) = &s.made_at {
        out.push_str(&detail("made at", at));
    }
    if let Some(name) = &s.loader_file_name {
        out.push_str(&detail("loader file", name));
    }
    for (name, value) in &s.counts {
        out.push_str(&detail(name, value));
    }
    if !s.years_needed.is_empty() {
        let years: Vec<String> = s.years_needed.iter().map(|y| y.to_string()).collect();
        out.push_str(&detail("years needed", years.join(", ")));
    }
    for w in &s.warnings {
        out.push_str(&format!("    warning: {w}\n"));
    }
    for reason in &s.brake_reasons {
        out.push_str(&format!("    held: {reason}\n"));
    }
    out
}

/// The day's report, as the last run's release stored it: how the run ended, what went
/// to Alma and what Alma made of it.
pub fn report_lines(r: &DayReport) -> String {
    let mut out = format!(
        "  day report       {}\n",
        DayKeys::new(r.run_date).day_figures()
    );
    out.push_str(&detail("outcome", outcome(r)));
    if let Some(load) = &r.load {
        out.push_str(&detail("load", load));
    }
    if let Some(rules) = &r.rules {
        out.push_str(&detail("rules", rules));
    }
    if let Some(rules) = &r.report_rules {
        out.push_str(&detail("report's rules", rules));
    }
    let pushed = match (&r.file_pushed, r.notes.already_pushed_at) {
        (Some(file), Some(_)) => format!("{file} (already loaded; nothing new pushed)"),
        (Some(file), None) if r.notes.forced => format!("{file} (forced)"),
        (Some(file), None) => file.clone(),
        (None, _) => "nothing".to_string(),
    };
    out.push_str(&detail("pushed", pushed));
    if let Some(status) = &r.alma_job_status {
        let minutes = r
            .alma_job_minutes
            .map(|m| format!(", {m} min"))
            .unwrap_or_default();
        out.push_str(&detail("Alma's job", format!("{status}{minutes}")));
        for (name, n) in r.alma_job.iter().flat_map(|job| &job.counters) {
            out.push_str(&detail(&format!("  {name}"), n));
        }
    }
    if let Some(loaded) = r.loaded {
        let said = if loaded {
            "yes"
        } else {
            "no (Alma's job has not said so)"
        };
        out.push_str(&detail("loaded in Alma", said));
    }
    if let Some(calls) = r.alma_calls {
        out.push_str(&detail("Alma calls", calls));
    }
    if let Some(ro) = &r.rollovers {
        let text = format!(
            "{} found, {} not found, {} ambiguous",
            ro.found, ro.not_found, ro.ambiguous
        );
        out.push_str(&detail("rollovers", text));
    }
    for note in report_notes(r) {
        out.push_str(&format!("    note: {note}\n"));
    }
    out
}

fn outcome(r: &DayReport) -> String {
    let dry = if r.dry_run { " (dry run)" } else { "" };
    match r.status {
        Some(RunStatus::Succeeded) => format!("succeeded{dry}"),
        Some(RunStatus::Failed) => format!(
            "failed{dry} at {}: {}",
            r.failed_state.as_deref().unwrap_or("an unknown state"),
            r.error.as_deref().unwrap_or("an unknown error")
        ),
        None => "unknown".to_string(),
    }
}

fn report_notes(r: &DayReport) -> Vec<String> {
    let mut notes = r.notes.pull_warnings.clone();
    notes.extend(r.notes.terms_missing.iter().cloned());
    match &r.notes.brake {
        BrakeNote::NotTripped => {}
        BrakeNote::WouldHold { why } => {
            notes.push(format!("the safety brake would hold it: {why}"))
        }
        BrakeNote::Approved { why, by } => notes.push(format!(
            "held by the safety brake ({why}); approved by {by}"
        )),
        BrakeNote::Tripped { why } => notes.push(format!("held by the safety brake: {why}")),
    }
    if r.notes.deletes_dropped_at_push > 0 {
        notes.push(format!(
            "{} DELETE rows dropped at the push (their courses have reading lists now or are no longer in Alma's listing)",
            r.notes.deletes_dropped_at_push
        ));
    }
    notes.extend(r.notes.rollover_sentences());
    notes
}

fn detail(label: &str, value: impl std::fmt::Display) -> String {
    format!("    {label:<22} {value}\n")
}

fn execution_lines(e: &ExecutionInfo, tz: chrono_tz::Tz) -> String {
    let stopped = e
        .stopped_at
        .map(|t| format!(", stopped {}", local_time(t, tz)))
        .unwrap_or_default();
    let from = e
        .start_at
        .as_deref()
        .map(|s| format!(", from {s}"))
        .unwrap_or_default();
    let dry = if e.dry_run { ", dry run" } else { "" };
    let mut out = format!(
        "  {:<10} {}  (started {}{stopped}{from}{dry})\n",
        e.status,
        e.name,
        local_time(e.started_at, tz)
    );
    if let Some(url) = &e.console_url {
        out.push_str(&format!("             {url}\n"));
    }
    out.push_str(&account_lines(&e.visits, tz, Utc::now()));
    if let Some(error) = &e.error {
        let cause = e.cause.as_deref().map(cause_message).unwrap_or_default();
        out.push_str(&format!("             error: {error}: {cause}\n"));
        out.push_str(&format!(
            "             next:  {}\n",
            leganto_shared::next_step::next_step(error)
        ));
    }
    out
}

/// The states the execution went through, a loop on one line with its count and time.
fn account_lines(visits: &[Visit], tz: chrono_tz::Tz, now: DateTime<Utc>) -> String {
    let clock = |t: DateTime<Utc>| t.with_timezone(&tz).format("%H:%M:%S").to_string();
    let mut out = String::new();
    for entry in collapse(visits) {
        let line = match entry {
            Entry::Once(v) => {
                let took = v.exited.map(|x| format!("  ({})", span(x - v.entered)));
                let failure = v.failure.as_ref().map(|f| format!("  failed: {f}"));
                format!(
                    "{}  {}{}{}",
                    clock(v.entered),
                    v.name,
                    took.unwrap_or_default(),
                    failure.unwrap_or_default()
                )
            }
            Entry::Loop(l) => {
                let still = if l.exited.is_none() { ", so far" } else { "" };
                format!(
                    "{}  {}  ({}{still})",
                    clock(l.entered),
                    l.names(),
                    span(l.took(now))
                )
            }
        };
        out.push_str(&format!("             {line}\n"));
    }
    out
}

/// A failure's cause ([`readable_cause`]) on one line.
fn cause_message(cause: &str) -> String {
    readable_cause(cause)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
