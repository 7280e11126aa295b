//! The rollovers people approved, sent with the day's file (course-loading.md §10). Right
//! before the push each open rollover is checked in Alma: a target course that has reading
//! lists already is closed ("already has lists"), one whose old course has none waits
//! ("source has no lists"). The rest are recorded as sent, each by a conditional write,
//! before the file holding their ROLLOVER rows exists: a record another push or a person
//! changed meanwhile is left out, so no rollover can go to Alma twice. Each ROLLOVER row
//! takes the place of its course's row in the file, or is added at the end.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::{stream as futures_stream, StreamExt};

use super::{stream, DeleteRow, LineSplitter};
use crate::alma::{AlmaClient, AlmaError};
use crate::domain::delta;
use crate::run::rollovers::{
    self, code_and_section, Held, PushedRollovers, Record, Rollover, Sent, Stage,
};
use crate::steps::{RunInfo, StepContext, StepError};
use crate::store::StoreError;

/// The file to push once the rollovers are in it.
pub(super) struct WithRollovers {
    pub key: String,
    pub sha256: String,
    pub counts: PushedRollovers,
}

/// What Alma said of one open rollover just before the push.
#[derive(Debug)]
enum Finding {
    Send,
    AlreadyHasLists,
    SourceHasNoLists,
    /// No answer that can be relied on: not sent, left open.
    Unreadable(AlmaError),
    /// Not checked: the push's time for checks ran out; left for the next push.
    Later,
    /// The day's file deletes the course: not sent, left open for a later day.
    Deleted,
}

/// How long a push spends checking rollovers in Alma at most, so the file still goes up in
/// the step's time however many were approved (those not checked wait for the next push).
const CHECK_BUDGET: Duration = Duration::from_secs(240);

/// Adds the open rollovers to the file at `key` (its SHA-256 `sha256`), as a copy beside
/// it; the file as it is when rollovers are off or none can be sent.
pub(super) async fn add_rollovers(
    ctx: &StepContext,
    run: &RunInfo,
    key: String,
    sha256: String,
    deletes: &[DeleteRow],
) -> Result<WithRollovers, StepError> {
    let mut counts = PushedRollovers::default();
    let (reclaimed, open) = if ctx.config.rollovers_enabled {
        open_rollovers(ctx, run).await?
    } else {
        (Vec::new(), Vec::new())
    };
    if reclaimed.is_empty() && open.is_empty() {
        return Ok(WithRollovers {
            key,
            sha256,
            counts,
        });
    }
    let new_key = rollovers_key(&key);
    let mut sending: Vec<Record> = reclaimed.into_iter().map(|held| held.record).collect();
    sending.extend(check_and_settle(ctx, run, open, deletes, &new_key, &mut counts).await?);
    if sending.is_empty() {
        return Ok(WithRollovers {
            key,
            sha256,
            counts,
        });
    }
    counts.sent = sending.len() as u64;
    let sha256 = stream::rewrite(ctx, &key, &new_key, RolloverSplice::new(&sending)).await?;
    tracing::info!(loader_key = %new_key, sent = counts.sent,
        already_has_lists = counts.already_has_lists,
        source_has_no_lists = counts.source_has_no_lists, not_sent = counts.not_sent,
        next_push = counts.next_push, "added the approved rollovers to the loader file");
    Ok(WithRollovers {
        key: new_key,
        sha256,
        counts,
    })
}

/// Checks each open approval in Alma and records what was found; those marked sent, which
/// go in the file at `loader_key`.
async fn check_and_settle(
    ctx: &StepContext,
    run: &RunInfo,
    open: Vec<Held>,
    deletes: &[DeleteRow],
    loader_key: &str,
    counts: &mut PushedRollovers,
) -> Result<Vec<Record>, StepError> {
    let course_rows = todays_course_rows(ctx, run, &open).await;
    let deleted: HashSet<(&str, &str)> = deletes
        .iter()
        .map(|d| (d.code.as_str(), d.section.as_str()))
        .collect();
    let client = ctx.alma().await?;
    let until = Instant::now() + CHECK_BUDGET;
    let until = crate::steps::step_stop().map_or(until, |stop| stop.min(until));
    let findings = check_in_alma(&client, &open, until).await;
    let mut sending = Vec::new();
    for (held, finding) in open.into_iter().zip(findings) {
        let r = &held.record.rollover;
        let finding = match finding {
            Finding::Send if deleted.contains(&(r.code.as_str(), r.section.as_str())) => {
                Finding::Deleted
            }
            other => other,
        };
        let row = course_rows
            .get(&(r.code.clone(), r.section.clone()))
            .cloned()
            .or_else(|| held.record.row.clone());
        sending.extend(settle(ctx, run, &held, finding, row, loader_key, counts).await?);
    }
    Ok(sending)
}

/// The ledger's open approvals, and the records this execution's push marked sent before
/// (a retry's own, taken again as they are).
async fn open_rollovers(
    ctx: &StepContext,
    run: &RunInfo,
) -> Result<(Vec<Held>, Vec<Held>), StoreError> {
    let (reclaimed, open) = rollovers::ledger(&ctx.store)
        .await?
        .into_iter()
        .filter(|held| held.record.stage.is_open() || sent_by_this_push(&held.record, run))
        .partition(|held| held.record.stage == Stage::Sent);
    Ok((reclaimed, open))
}

/// Records what the check found for one open rollover and counts it; the record marked sent
/// when it goes in the file (`row`: the course row its ROLLOVER row is made from).
async fn settle(
    ctx: &StepContext,
    run: &RunInfo,
    held: &Held,
    finding: Finding,
    row: Option<String>,
    loader_key: &str,
    counts: &mut PushedRollovers,
) -> Result<Option<Record>, StoreError> {
    let rollover = held.record.rollover.describe();
    match (finding, row) {
        (Finding::AlreadyHasLists, _) => {
            counts.already_has_lists += 1;
            let what = format!("closed at the push of {}: already has lists", run.run_date);
            let closed = held.record.clone().moved(Stage::AlreadyHasLists, what);
            record_or_warn(ctx, held, closed).await?;
        }
        (Finding::SourceHasNoLists, _) => {
            counts.source_has_no_lists += 1;
            if held.record.stage != Stage::SourceHasNoLists {
                let what = format!("not sent on {}: source has no lists", run.run_date);
                let waiting = held.record.clone().moved(Stage::SourceHasNoLists, what);
                record_or_warn(ctx, held, waiting).await?;
            }
        }
        (Finding::Later, _) => counts.next_push += 1,
        (Finding::Unreadable(e), _) => {
            counts.not_sent += 1;
            tracing::warn!(rollover, error = %e,
                "not sent: Alma's answer could not be read; the next push checks it again");
        }
        (Finding::Deleted, _) => {
            counts.not_sent += 1;
            tracing::warn!(
                rollover,
                "not sent: the day's file deletes the course; it stays approved"
            );
        }
        (Finding::Send, None) => {
            counts.not_sent += 1;
            tracing::warn!(
                rollover,
                "not sent: no course row for it today and none kept with \
                the approval; revoke it and approve it again from a newer report"
            );
        }
        (Finding::Send, Some(row)) => {
            let sent = as_sent(&held.record, run, loader_key, row, ctx);
            if rollovers::replace(&ctx.store, held, &sent).await? {
                return Ok(Some(sent));
            }
            counts.not_sent += 1;
            tracing::warn!(
                rollover,
                "not sent: its record changed while the push checked it"
            );
        }
    }
    Ok(None)
}

/// A record this execution's push marked sent before its file was up: an earlier attempt
/// that failed before recording what it would send, so nothing went to Alma.
fn sent_by_this_push(record: &Record, run: &RunInfo) -> bool {
    record.stage == Stage::Sent
        && record
            .sent
            .as_ref()
            .is_some_and(|s| s.execution_arn == run.execution_arn && s.run_date == run.run_date)
}

/// The record marked sent: its ROLLOVER row (kept in the record) goes in `loader_key`.
fn as_sent(
    record: &Record,
    run: &RunInfo,
    loader_key: &str,
    course_row: String,
    ctx: &StepContext,
) -> Record {
    let now = ctx.now();
    let what = format!(
        "sent with the loader file of {} (execution {}) at {}",
        run.run_date,
        run.execution_name,
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let mut sent = record.clone().moved(Stage::Sent, what);
    sent.row = Some(course_row);
    sent.sent = Some(Sent {
        run_date: run.run_date,
        execution_arn: run.execution_arn.clone(),
        loader_key: loader_key.to_string(),
        at: now,
        file_name: None,
    });
    sent.note = None;
    sent
}

/// Writes `record` over `held`; another writer first (a person revoking) is logged, not
/// an error: the rollover is then simply not sent.
async fn record_or_warn(ctx: &StepContext, held: &Held, record: Record) -> Result<(), StoreError> {
    if !rollovers::replace(&ctx.store, held, &record).await? {
        tracing::warn!(rollover = %record.rollover.describe(),
            "its record changed while the push checked it; left as it is");
    }
    Ok(())
}

/// Each open rollover checked in Alma, a few at a time, in the order given; none is begun
/// after `until`.
async fn check_in_alma(client: &AlmaClient, open: &[Held], until: Instant) -> Vec<Finding> {
    // Owned rollovers: a closure over references makes the step's future fail the `Send`
    // check for every lifetime (see `alma::cache`).
    let rollovers: Vec<Rollover> = open.iter().map(|h| h.record.rollover.clone()).collect();
    futures_stream::iter(rollovers)
        .map(|rollover| {
            let client = client.clone();
            async move {
                if Instant::now() >= until {
                    return Finding::Later;
                }
                check(client, rollover).await
            }
        })
        .buffered(client.max_concurrency())
        .collect()
        .await
}

async fn check(client: AlmaClient, rollover: Rollover) -> Finding {
    match client
        .reading_lists_of(&rollover.code, &rollover.section)
        .await
    {
        Err(e) => return Finding::Unreadable(e),
        Ok(Some(n)) if n > 0 => return Finding::AlreadyHasLists,
        Ok(_) => {}
    }
    match client
        .reading_lists_of(&rollover.old_code, &rollover.old_section)
        .await
    {
        Err(e) => Finding::Unreadable(e),
        Ok(Some(n)) if n > 0 => Finding::Send,
        Ok(_) => Finding::SourceHasNoLists,
    }
}

/// Today's course rows (all of them, before the delta) of the open rollovers' courses, by
/// code and section: the row a ROLLOVER row is made from when the day's file has none.
/// None when the day kept no course rows (then the report's row is used).
async fn todays_course_rows(
    ctx: &StepContext,
    run: &RunInfo,
    open: &[Held],
) -> HashMap<(String, String), String> {
    let wanted: HashSet<(&str, &str)> = open
        .iter()
        .map(|h| {
            (
                h.record.rollover.code.as_str(),
                h.record.rollover.section.as_str(),
            )
        })
        .collect();
    let key = run.day().course_rows();
    let rows = match ctx.store.get(&key).await {
        Ok(gz) => delta::gunzip(&gz).map_err(|e| e.to_string()),
        Err(StoreError::NotFound { .. }) => return HashMap::new(),
        Err(e) => Err(e.to_string()),
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "today's course rows could not be read; \
                the report's rows are used for rollovers the file has no row for");
            return HashMap::new();
        }
    };
    String::from_utf8_lossy(&rows)
        .split("\r\n")
        .skip(1)
        .filter(|line| wanted.contains(&code_and_section(line)))
        .map(|line| {
            let (code, section) = code_and_section(line);
            ((code.to_string(), section.to_string()), line.to_string())
        })
        .collect()
}

/// `alma/…/<stem>.rollovers.txt`: the file to push with the approved rollovers in it.
fn rollovers_key(key: &str) -> String {
    let stem = key.strip_suffix(".txt").unwrap_or(key);
    format!("{stem}.rollovers.txt")
}

/// The day's file with each rollover's ROLLOVER row in place of its course's row, and those
/// the file has no row for added at the end; byte for byte otherwise.
pub(super) struct RolloverSplice {
    lines: LineSplitter,
    /// Index into `rows` by code and section.
    targets: HashMap<(String, String), usize>,
    /// Each rollover and the row made from its kept course row.
    rows: Vec<(Rollover, String)>,
    placed: Vec<bool>,
}

impl RolloverSplice {
    fn new(sending: &[Record]) -> RolloverSplice {
        let rows: Vec<(Rollover, String)> = sending
            .iter()
            .map(|r| {
                let row = r.row.as_deref().unwrap_or_default();
                (r.rollover.clone(), r.rollover.row_from(row))
            })
            .collect();
        RolloverSplice {
            lines: LineSplitter::default(),
            targets: rows
                .iter()
                .enumerate()
                .map(|(i, (r, _))| ((r.code.clone(), r.section.clone()), i))
                .collect(),
            placed: vec![false; rows.len()],
            rows,
        }
    }

    fn line(&mut self, index: usize, line: &[u8], out: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let (code, section) = code_and_section(&text);
        let found = (index > 0)
            .then(|| self.targets.get(&(code.to_string(), section.to_string())))
            .flatten();
        match found {
            Some(&i) if !self.placed[i] => {
                self.placed[i] = true;
                out.extend_from_slice(self.rows[i].0.row_from(&text).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            _ => out.extend_from_slice(line),
        }
    }
}

impl stream::Rewrite for RolloverSplice {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.push(chunk, |i, line| self.line(i, line, out));
        self.lines = lines;
    }

    fn finish(mut self, out: &mut Vec<u8>) {
        let lines = std::mem::take(&mut self.lines);
        lines.finish(|i, line| {
            self.line(i, line, out);
            if !out.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
        });
        for (i, (_, row)) in self.rows.iter().enumerate() {
            if !self.placed[i] {
                out.extend_from_slice(row.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stream::Rewrite;
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn row(code: &str, section: &str, title: &str) -> String {
        let mut cells = vec![String::new(); 34];
        cells[0] = code.into();
        cells[1] = title.into();
        cells[2] = section.into();
        cells.join("\t")
    }

    fn approved(code: &str, section: &str, kept_row: &str) -> Record {
        let rollover = Rollover {
            code: code.into(),
            section: section.into(),
            old_code: format!("OLD-{code}"),
            old_section: "9".into(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 17, 0, 0).unwrap();
        Record::approved(rollover, Some(kept_row.into()), None, day, "pat", at)
    }

    fn spliced(file: &str, sending: &[Record], chunk: usize) -> String {
        let mut splice = RolloverSplice::new(sending);
        let mut out = Vec::new();
        for part in file.as_bytes().chunks(chunk) {
            splice.push(part, &mut out);
        }
        splice.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_rollover_takes_its_course_s_place_or_is_added_at_the_end() {
        let file = format!(
            "Header\r\n{}\r\n{}\r\n",
            row("A", "1", "today's A"),
            row("B", "2", "B")
        );
        let sending = [
            approved("A", "1", &row("A", "1", "report's A")),
            approved("C", "3", &row("C", "3", "kept C")),
        ];
        for chunk in [1, 7, file.len()] {
            let out = spliced(&file, &sending, chunk);
            let lines: Vec<&str> = out.split("\r\n").collect();
            assert_eq!(lines.len(), 5, "{out:?}");
            assert_eq!(lines[0], "Header");
            let a = Rollover::of_row(lines[1]).unwrap();
            assert_eq!(a.old_code, "OLD-A");
            assert_eq!(lines[1].split('\t').nth(1), Some("today's A"));
            assert_eq!(lines[2], row("B", "2", "B"));
            assert_eq!(Rollover::of_row(lines[3]).unwrap().code, "C");
            assert_eq!(lines[3].split('\t').nth(1), Some("kept C"));
            assert_eq!(lines[4], "");
        }
    }

    #[test]
    fn a_file_without_a_final_crlf_still_gets_its_rollovers_on_lines_of_their_own() {
        let file = format!("Header\r\n{}", row("B", "2", "B"));
        let out = spliced(&file, &[approved("C", "3", &row("C", "3", "C"))], 5);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[1], row("B", "2", "B"));
        assert_eq!(Rollover::of_row(lines[2]).unwrap().code, "C");
    }

    #[test]
    fn the_header_and_a_same_coded_row_of_another_section_are_left_alone() {
        let file = format!("A\t\t1\r\n{}\r\n", row("A", "7", "A7"));
        let out = spliced(&file, &[approved("A", "1", &row("A", "1", "A1"))], 4);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], "A\t\t1");
        assert_eq!(lines[1], row("A", "7", "A7"));
        assert_eq!(Rollover::of_row(lines[2]).unwrap().section, "1");
    }

    fn run(arn: &str, day: &str) -> RunInfo {
        serde_json::from_value(serde_json::json!({
            "run_date": day, "execution_arn": arn, "execution_name": "n",
            "time_zone": "America/Phoenix", "poll_interval_seconds": 1,
            "wait_limit_seconds": 1, "hold_poll_seconds": 1, "export_poll_seconds": 1
        }))
        .unwrap()
    }

    #[test]
    fn only_a_retry_of_the_push_that_marked_a_rollover_sent_takes_it_again() {
        let first = run("arn:x:1", "2026-11-29");
        let record = approved("A", "1", &row("A", "1", "A"));
        assert!(!sent_by_this_push(&record, &first), "approved, not sent");
        let mut sent = record.moved(Stage::Sent, "sent".into());
        sent.sent = Some(Sent {
            run_date: first.run_date,
            execution_arn: first.execution_arn.clone(),
            loader_key: "alma/x.rollovers.txt".into(),
            at: Utc::now(),
            file_name: None,
        });
        assert!(sent_by_this_push(&sent, &first));
        assert!(
            !sent_by_this_push(&sent, &run("arn:x:2", "2026-11-29")),
            "a rerun"
        );
        assert!(!sent_by_this_push(&sent, &run("arn:x:1", "2026-11-30")));
        let confirmed = sent.moved(Stage::Confirmed, "confirmed".into());
        assert!(!sent_by_this_push(&confirmed, &first));
    }

    #[test]
    fn the_copy_is_named_beside_the_day_s_file() {
        assert_eq!(
            rollovers_key("alma/2026/11/28/loader.guarded.txt"),
            "alma/2026/11/28/loader.guarded.rollovers.txt"
        );
    }
}
