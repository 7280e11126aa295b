//! After Alma's job loaded the day: each rollover sent (this day or an earlier one whose
//! job never said so) is confirmed when its target course has reading lists now, and
//! failed otherwise (course-loading.md §10); a failed one goes out again only when a person
//! approves it again. The day's report rows are then counted by where the ledger has them.

use std::collections::{BTreeMap, HashMap};

use futures::{stream, StreamExt};

use crate::alma::{AlmaClient, AlmaError};
use crate::run::baseline;
use crate::run::outputs::AlmaJobOutput;
use crate::run::receipt::read_receipt;
use crate::run::rollovers::{self, CheckedRollovers, Held, Record, Rollover, Stage};
use crate::steps::{RunInfo, StepContext, StepError};
use crate::store::content_type;

/// [`check_ledger`], a failure logged and left for the next loaded day: the report goes
/// out whatever becomes of the ledger.
pub(super) async fn check_ledger_or_warn(
    ctx: &StepContext,
    input: &super::RolloverReportInput,
    report: &[u8],
) -> Option<CheckedRollovers> {
    match check_ledger(ctx, &input.run, input.alma_job.as_ref(), report).await {
        Ok(checked) => checked,
        Err(e) => {
            tracing::warn!(error = %e, "the rollover ledger was not checked; the next loaded day checks it");
            None
        }
    }
}

/// Confirms what can be confirmed and counts the report's rows by stage; `None` when the
/// ledger is empty (rollovers never approved here).
async fn check_ledger(
    ctx: &StepContext,
    run: &RunInfo,
    alma_job: Option<&AlmaJobOutput>,
    report: &[u8],
) -> Result<Option<CheckedRollovers>, StepError> {
    let mut ledger = rollovers::ledger(&ctx.store).await?;
    if ledger.is_empty() {
        return Ok(None);
    }
    let mut checked = CheckedRollovers::default();
    let loaded = alma_job.is_some_and(|job| baseline::loaded(&job.status));
    if loaded && !run.dry_run {
        let client = ctx.alma().await?;
        confirm_sent(ctx, &client, run, &mut ledger, &mut checked).await?;
    }
    let (marks, report_rows) = marks(report, &ledger);
    checked.report_rows = report_rows;
    let key = run.day().rollover_marks();
    ctx.store
        .put(&key, marks.into_bytes(), content_type::TEXT)
        .await?;
    checked.marks_key = Some(key);
    Ok(Some(checked))
}

/// A report row the ledger has no record of.
const PROPOSED: &str = "proposed";

/// Each row of the report with its mark (where the ledger has it, and its last change), and
/// how many rows the ledger holds by mark.
fn marks(report: &[u8], ledger: &[Held]) -> (String, BTreeMap<String, u64>) {
    let by_target: HashMap<(&str, &str), &Record> = ledger
        .iter()
        .map(|h| {
            let r = &h.record.rollover;
            ((r.code.as_str(), r.section.as_str()), &h.record)
        })
        .collect();
    let mut held = BTreeMap::new();
    let mut out = String::from(
        "Course Code\tSection ID\tOld Course Code\tOld Course Section ID\tMark\tLast change\r\n",
    );
    for r in String::from_utf8_lossy(report)
        .lines()
        .filter_map(Rollover::of_row)
    {
        let record = by_target.get(&(r.code.as_str(), r.section.as_str()));
        let mark = record.map_or(PROPOSED, |record| record.stage.label());
        if record.is_some() {
            *held.entry(mark.to_string()).or_default() += 1;
        }
        let last = record
            .and_then(|record| record.history.last())
            .map_or("", String::as_str);
        let cells = [
            &r.code,
            &r.section,
            &r.old_code,
            &r.old_section,
            &last.to_string(),
        ];
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.replace(['\t', '\r', '\n'], " "))
            .collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{mark}\t{}\r\n",
            cells[0], cells[1], cells[2], cells[3], cells[4]
        ));
    }
    (out, held)
}

/// Marks each sent rollover of this day or before confirmed or failed, by what Alma says
/// of its target course now; one Alma cannot answer for stays sent (the next loaded day
/// asks again).
async fn confirm_sent(
    ctx: &StepContext,
    client: &AlmaClient,
    run: &RunInfo,
    ledger: &mut [Held],
    checked: &mut CheckedRollovers,
) -> Result<(), StepError> {
    let due: Vec<usize> = (0..ledger.len())
        .filter(|&i| {
            let record = &ledger[i].record;
            record.stage == Stage::Sent
                && record
                    .sent
                    .as_ref()
                    .is_some_and(|s| s.run_date <= run.run_date)
        })
        .collect();
    let targets: Vec<Rollover> = due
        .iter()
        .map(|&i| ledger[i].record.rollover.clone())
        .collect();
    let answers = ask_targets(client, targets).await;
    let mut file_names: BTreeMap<chrono::NaiveDate, Option<String>> = BTreeMap::new();
    for (i, answer) in due.into_iter().zip(answers) {
        let held = &ledger[i];
        let has_lists = match answer {
            None => continue,
            Some(Ok(has)) => has,
            Some(Err(e)) => {
                tracing::warn!(rollover = %held.record.rollover.describe(), error = %e,
                    "Alma's answer could not be read; the rollover stays sent");
                continue;
            }
        };
        let sent_on = held.record.sent.as_ref().map(|s| s.run_date);
        let file_name = match sent_on {
            Some(day) => file_name_of(ctx, &mut file_names, day).await?,
            None => None,
        };
        let record = judged(held.record.clone(), has_lists, file_name, run);
        if has_lists {
            checked.confirmed += 1;
        } else {
            checked.failed += 1;
            tracing::warn!(rollover = %record.rollover.describe(),
                "rollover failed: its course has no reading list after Alma's job");
        }
        if rollovers::replace(&ctx.store, held, &record).await? {
            ledger[i].record = record;
        }
    }
    Ok(())
}

/// Whether each target course has a reading list now, a few at a time, in order; `None`
/// for those not asked because the step's stop came (they stay sent for the next day).
async fn ask_targets(
    client: &AlmaClient,
    targets: Vec<Rollover>,
) -> Vec<Option<Result<bool, AlmaError>>> {
    let stop = crate::steps::step_stop();
    // Owned rollovers and client: see `alma::cache` on futures that must be `Send`.
    stream::iter(targets)
        .map(|rollover| {
            let client = client.clone();
            async move {
                if stop.is_some_and(|stop| std::time::Instant::now() >= stop) {
                    return None;
                }
                Some(target_has_lists(client, rollover).await)
            }
        })
        .buffered(client.max_concurrency())
        .collect()
        .await
}

/// The name of the file Alma got for `day`, from its push receipt (read once per day).
async fn file_name_of(
    ctx: &StepContext,
    known: &mut BTreeMap<chrono::NaiveDate, Option<String>>,
    day: chrono::NaiveDate,
) -> Result<Option<String>, StepError> {
    if let Some(name) = known.get(&day) {
        return Ok(name.clone());
    }
    let name = read_receipt(&ctx.store, day).await?.map(|r| r.file_name);
    known.insert(day, name.clone());
    Ok(name)
}

/// The record confirmed or failed after the job of `run`'s day, naming the file it went in.
fn judged(mut record: Record, has_lists: bool, file_name: Option<String>, run: &RunInfo) -> Record {
    if let Some(sent) = record.sent.as_mut() {
        sent.file_name = sent.file_name.take().or(file_name);
    }
    let (stage, what) = if has_lists {
        (Stage::Confirmed, "confirmed")
    } else {
        (Stage::Failed, "failed: no reading list")
    };
    record.moved(
        stage,
        format!(
            "{what} after Alma's job of {} ({})",
            run.run_date, run.execution_name
        ),
    )
}

/// Whether the rollover's target course has a reading list in Alma now; a course Alma
/// does not hold has none.
async fn target_has_lists(client: AlmaClient, rollover: Rollover) -> Result<bool, AlmaError> {
    let lists = client
        .reading_lists_of(&rollover.code, &rollover.section)
        .await?;
    Ok(lists.is_some_and(|n| n > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn report_row(code: &str, section: &str) -> String {
        let mut cells = vec![String::new(); 34];
        cells[0] = code.into();
        cells[2] = section.into();
        cells[28] = "ROLLOVER".into();
        cells[29] = format!("OLD-{code}");
        cells[30] = "9".into();
        cells.join("\t")
    }

    #[test]
    fn each_report_row_is_marked_with_its_stage_or_as_proposed() {
        let report = format!(
            "header\r\n{}\r\n{}\r\n",
            report_row("A", "1"),
            report_row("B", "2")
        );
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 17, 0, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let rollover = Rollover::of_row(&report_row("A", "1")).unwrap();
        let record = Record::approved(rollover, None, None, day, "pat", at)
            .moved(Stage::Confirmed, "confirmed after Alma's job".into());
        let held = Held {
            record,
            etag: "e".into(),
        };
        let (marks, held) = marks(report.as_bytes(), &[held]);
        assert_eq!(held, BTreeMap::from([("confirmed".to_string(), 1)]));
        let lines: Vec<&str> = marks.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Course Code\tSection ID"));
        assert_eq!(
            lines[1],
            "A\t1\tOLD-A\t9\tconfirmed\tconfirmed after Alma's job"
        );
        assert_eq!(lines[2], "B\t2\tOLD-B\t9\tproposed\t");
    }
}
