//! Push to Alma SFTP: the day's loader file from S3 to Alma's SFTP directory, atomically,
//! once per run date, under the time of the upload (course-loading.md §5: Alma's loader
//! takes only files stamped later than its last run). The push receipt
//! (`alma/…/pushed.json`, written with a conditional write) says which file was loaded:
//! the same bytes again are a no-op success, a different file is `AlreadyPushed` and a day
//! older than the newest one loaded is `OutOfOrder`, unless the execution input has
//! `"force": true`. The bytes chosen and their hidden temporary name on Alma's server are
//! recorded before the upload (`pushing.json`); once the bytes are whole there, the name is
//! chosen (the time of that moment, later than any file sent before), recorded too, and the
//! file renamed, so a retry sends the same bytes once and never makes a second file. The
//! file passes a part at a time (S3 to SFTP, [`stream`]): any size in bounded memory.
//! Delete checks older than `GUARD_MAX_AGE_HOURS` are made again first, failing closed: a
//! DELETE whose course has reading lists now, or that Alma's listing no longer shows, is
//! dropped. Then the rollovers people approved go in, each recorded as sent before the file
//! exists (`push::rollovers`, course-loading.md §10). Never in a dry run.

#[cfg(feature = "sftp")]
mod rollovers;
#[cfg(feature = "sftp")]
mod stream;

use std::collections::HashSet;

use serde::Deserialize;

use super::RunInfo;
use crate::domain::loader::LOADER_COLUMNS;
use crate::run::summary::TransformOutput;
#[cfg(feature = "sftp")]
use {
    super::{StepContext, StepError},
    crate::run::outputs::PushOutput,
    crate::run::receipt::{self, PushIntent, PushReceipt},
    crate::run::summary::SummaryStamp,
    crate::sftp::UploadOutcome,
    crate::store::{content_type, file_name, StoreError},
    chrono::SubsecRound,
    chrono::{DateTime, NaiveDateTime, Utc},
    std::collections::HashMap,
};

#[derive(Debug, Clone, Deserialize)]
pub struct PushInput {
    pub run: RunInfo,
    #[serde(default)]
    pub transform: Option<TransformOutput>,
}

/// Column positions in the loader file (see [`LOADER_COLUMNS`]).
fn column(name: &str) -> usize {
    LOADER_COLUMNS.iter().position(|c| *c == name).unwrap_or(0)
}

/// One DELETE row of a loader file: its line index (0 = header) and what names the course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRow {
    pub line: usize,
    pub code: String,
    pub section: String,
    pub year: String,
}

/// A loader file's lines as its bytes arrive in chunks of any size: each line with its
/// CRLF, numbered from 0 (the header), as `split("\r\n")` numbers them. Holds one
/// unfinished line at a time.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    next_line: usize,
}

impl LineSplitter {
    /// Adds `chunk`, handing each line it completes to `line(index, bytes with CRLF)`.
    pub fn push(&mut self, chunk: &[u8], mut line: impl FnMut(usize, &[u8])) {
        let searched_from = self.pending.len().saturating_sub(1);
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        let mut at = searched_from;
        while let Some(offset) = self.pending[at..].iter().position(|b| *b == b'\n') {
            let end = at + offset + 1;
            if end >= start + 2 && self.pending[end - 2] == b'\r' {
                line(self.next_line, &self.pending[start..end]);
                self.next_line += 1;
                start = end;
            }
            at = end;
        }
        self.pending.drain(..start);
    }

    /// The last line, when the file does not end with CRLF.
    pub fn finish(self, mut line: impl FnMut(usize, &[u8])) {
        if !self.pending.is_empty() {
            line(self.next_line, &self.pending);
        }
    }
}

/// The DELETE row a loader file's line (with or without its CRLF) is, if it is one.
pub fn delete_row(index: usize, line: &[u8]) -> Option<DeleteRow> {
    if index == 0 {
        return None;
    }
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix("\r\n").unwrap_or(&text);
    let fields: Vec<&str> = text.split('\t').collect();
    let field = |name: &str| fields.get(column(name)).copied().unwrap_or_default();
    (field("Operation") == "DELETE").then(|| DeleteRow {
        line: index,
        code: field("Course Code").to_string(),
        section: field("Section ID").to_string(),
        year: field("Year").to_string(),
    })
}

/// The DELETE rows of a loader file (tab-separated, CRLF, header first).
pub fn delete_rows(loader: &str) -> Vec<DeleteRow> {
    let mut rows = Vec::new();
    let mut lines = LineSplitter::default();
    lines.push(loader.as_bytes(), |i, l| rows.extend(delete_row(i, l)));
    lines.finish(|i, l| rows.extend(delete_row(i, l)));
    rows
}

/// Passes a loader file's lines on except those at `drop`, byte for byte otherwise; fed
/// in chunks of any size.
#[derive(Debug)]
pub struct LineFilter {
    lines: LineSplitter,
    drop: HashSet<usize>,
}

impl LineFilter {
    pub fn new(drop: HashSet<usize>) -> LineFilter {
        LineFilter {
            lines: LineSplitter::default(),
            drop,
        }
    }

    /// Adds `chunk`; the kept lines it completes go to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let drop = &self.drop;
        self.lines.push(chunk, |i, line| {
            if !drop.contains(&i) {
                out.extend_from_slice(line);
            }
        });
    }

    /// The last line, if kept and not ended by CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        let drop = self.drop;
        self.lines.finish(|i, line| {
            if !drop.contains(&i) {
                out.extend_from_slice(line);
            }
        });
    }
}

/// The loader file without the lines at `drop`, byte for byte otherwise.
pub fn without_lines(loader: &str, drop: &HashSet<usize>) -> String {
    let mut out = Vec::with_capacity(loader.len());
    let mut filter = LineFilter::new(drop.clone());
    filter.push(loader.as_bytes(), &mut out);
    filter.finish(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The loader file to push: the transform's, else the one the run summary names (never a
/// guess among the day's files).
#[cfg(feature = "sftp")]
async fn loader_key(
    ctx: &StepContext,
    input: &PushInput,
    stamp: Option<&SummaryStamp>,
) -> Result<String, StepError> {
    if let Some(t) = &input.transform {
        return Ok(t.loader_key.clone());
    }
    stamp.and_then(|s| s.loader_key.clone()).ok_or_else(|| {
        StoreError::NotFound {
            bucket: ctx.store.bucket().to_string(),
            key: input.run.day().run_summary(),
        }
        .into()
    })
}

/// The run summary's `made_at` and `loader_key`, if there is a summary.
#[cfg(feature = "sftp")]
async fn summary_stamp(
    ctx: &StepContext,
    input: &PushInput,
) -> Result<Option<SummaryStamp>, StepError> {
    match ctx.store.get_json(&input.run.day().run_summary()).await {
        Ok(stamp) => Ok(Some(stamp)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Why the fresh guard drops a DELETE row.
#[cfg(feature = "sftp")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    /// The course has reading lists in Alma now.
    HasLists,
    /// Alma's listing of the year does not show the course (or the row names no year): no
    /// answer on its reading lists, so no DELETE.
    NotListed,
    /// Alma's reading-list answer said neither a count nor a list ("Alma's answer did not
    /// say"): no DELETE on it, the push goes on.
    Unclear,
}

/// The DELETE rows to drop, asked afresh, failing closed: a course with reading lists now,
/// a course Alma's listing does not show, and one whose answer said nothing. An answer that
/// cannot be read fails the push (never a delete on a guess).
#[cfg(feature = "sftp")]
async fn deletes_to_drop(
    ctx: &StepContext,
    rows: &[DeleteRow],
) -> Result<HashMap<usize, Dropped>, StepError> {
    let cache = ctx.course_cache().await?;
    let mut years: Vec<String> = rows
        .iter()
        .map(|r| r.year.clone())
        .filter(|y| !y.trim().is_empty())
        .collect();
    years.sort_unstable();
    years.dedup();
    cache.load_years(&years).await?;
    let mut drop = HashMap::new();
    let mut course_of_line = Vec::new();
    for row in rows {
        let course = cache.courses_of_year(&row.year).and_then(|courses| {
            courses
                .iter()
                .find(|c| c.code == row.code && c.section == row.section)
                .map(|c| c.id.clone())
        });
        match course {
            Some(id) => course_of_line.push((row.line, id)),
            None => {
                drop.insert(row.line, Dropped::NotListed);
            }
        }
    }
    let ids: Vec<String> = course_of_line.iter().map(|(_, id)| id.clone()).collect();
    let has_lists = cache.reading_lists(&ids).await?;
    for (line, id) in course_of_line {
        match has_lists.get(&id) {
            Some(true) => drop.insert(line, Dropped::HasLists),
            Some(false) => None,
            // No answer that says "none": no DELETE.
            None => drop.insert(line, Dropped::Unclear),
        };
    }
    Ok(drop)
}

/// The loader file to push as the fresh guard left it: where it is in S3, its SHA-256 and
/// how many DELETE rows were dropped.
#[cfg(feature = "sftp")]
struct Guarded {
    key: String,
    sha256: String,
    dropped: u64,
}

/// Makes the delete checks again when they are older than `GUARD_MAX_AGE_HOURS` (or of
/// unknown age); the rows dropped are left out of a copy written beside the transform's
/// file (a part at a time), which is then the file to push.
#[cfg(feature = "sftp")]
async fn fresh_guard(
    ctx: &StepContext,
    key: String,
    scanned: stream::Scanned,
    made_at: Option<DateTime<Utc>>,
) -> Result<Guarded, StepError> {
    let unchanged = |key: String, sha256: String| Guarded {
        key,
        sha256,
        dropped: 0,
    };
    let max_age =
        chrono::Duration::from_std(ctx.config.alma.guard_max_age).unwrap_or(chrono::Duration::MAX);
    let age = made_at.map(|t| ctx.now() - t);
    let rows = scanned.deletes;
    if age.is_some_and(|a| a <= max_age) || rows.is_empty() {
        return Ok(unchanged(key, scanned.sha256));
    }
    let drop = deletes_to_drop(ctx, &rows).await?;
    tracing::info!(
        loader_key = %key,
        checked_at = ?made_at,
        delete_rows = rows.len(),
        dropped = drop.len(),
        "made the delete checks again before the push"
    );
    if drop.is_empty() {
        return Ok(unchanged(key, scanned.sha256));
    }
    log_dropped(&rows, &drop);
    // Beside the transform's file, which S3 keeps as it is.
    let new_key = guarded_key(&key);
    let lines: HashSet<usize> = drop.keys().copied().collect();
    let sha256 = stream::write_without(ctx, &key, &new_key, lines).await?;
    Ok(Guarded {
        key: new_key,
        sha256,
        dropped: drop.len() as u64,
    })
}

/// One log line per DELETE row the fresh guard dropped, with its reason.
#[cfg(feature = "sftp")]
fn log_dropped(rows: &[DeleteRow], drop: &HashMap<usize, Dropped>) {
    for row in rows {
        match drop.get(&row.line) {
            Some(Dropped::HasLists) => tracing::warn!(
                course = %row.code,
                section = %row.section,
                "dropped a DELETE: the course has reading lists now"
            ),
            Some(Dropped::NotListed) => tracing::warn!(
                course = %row.code,
                section = %row.section,
                year = %row.year,
                "dropped a DELETE: Alma's listing of its year does not show the course"
            ),
            Some(Dropped::Unclear) => tracing::warn!(
                course = %row.code,
                section = %row.section,
                "dropped a DELETE: Alma's answer did not say whether the course has reading lists"
            ),
            None => {}
        }
    }
}

/// `alma/…/<stem>.guarded.txt`: the transform's file without the DELETE rows the fresh
/// guard dropped.
#[cfg(feature = "sftp")]
fn guarded_key(transform_key: &str) -> String {
    let stem = transform_key.strip_suffix(".txt").unwrap_or(transform_key);
    format!("{stem}.guarded.txt")
}

/// What the receipt already says about `sha256`: the same bytes (done), another file
/// (refused unless forced) or none yet.
#[cfg(feature = "sftp")]
enum Recorded {
    None,
    Same(PushReceipt),
    Other(PushReceipt, String),
}

#[cfg(feature = "sftp")]
async fn recorded(ctx: &StepContext, key: &str, sha256: &str) -> Result<Recorded, StepError> {
    let Some((receipt, etag)) = ctx.store.get_json_versioned::<PushReceipt>(key).await? else {
        return Ok(Recorded::None);
    };
    let same = receipt.sha256 == sha256 || receipt.source_sha256.as_deref() == Some(sha256);
    Ok(if same {
        Recorded::Same(receipt)
    } else {
        Recorded::Other(receipt, etag)
    })
}

#[cfg(feature = "sftp")]
fn already_pushed(receipt: &PushReceipt, this_file: &str) -> StepError {
    StepError::already_pushed(
        receipt,
        format!("{this_file} differs from it, so Alma would load both; nothing was pushed"),
    )
}

#[cfg(feature = "sftp")]
fn no_op(receipt: PushReceipt) -> PushOutput {
    PushOutput {
        file_name: receipt.file_name,
        remote_path: None,
        bytes: receipt.bytes,
        pushed_at: receipt.pushed_at,
        already_there: true,
        recalled: false,
        sha256: receipt.sha256,
        loader_key: Some(receipt.loader_key),
        deletes_dropped_at_push: 0,
        forced: false,
        rollovers: Default::default(),
    }
}

/// Needs the `sftp` feature (libssh2); the types above do not, so later steps read them.
#[cfg(feature = "sftp")]
pub async fn run(ctx: &StepContext, input: PushInput) -> Result<PushOutput, StepError> {
    if input.run.dry_run {
        // The state machine skips this step in a dry run; refuse rather than load Alma.
        return Err(StepError::invalid_input(
            "this is a dry run: nothing may be pushed to Alma",
        ));
    }
    let receipt_key = input.run.day().push_receipt();
    let run = &input.run;
    let file = match receipt::intent_of(&ctx.store, run.run_date, &run.execution_arn).await? {
        // A retry of this execution's push: the same bytes under the same name.
        Some(intent) => ToPush::again(intent),
        None => match prepare(ctx, &input, &receipt_key).await? {
            Prepared::Done(output) => {
                full_load_done(ctx, &input).await;
                return Ok(output);
            }
            Prepared::Push(file) => file,
        },
    };
    let output = push_and_record(ctx, &input, &receipt_key, file).await?;
    full_load_done(ctx, &input).await;
    Ok(output)
}

/// The request for a full load the day's file followed is done with once the file is in
/// Alma's hands: removed (that version only; a request made since stays). A failure to
/// remove it fails nothing: the file went up, and the next scheduled day is full again.
#[cfg(feature = "sftp")]
async fn full_load_done(ctx: &StepContext, input: &PushInput) {
    let Some(followed) = input
        .transform
        .as_ref()
        .and_then(|t| t.full_load_request.as_ref())
    else {
        return;
    };
    match crate::run::full_load::remove(&ctx.store, followed).await {
        Ok(true) => tracing::info!(by = %followed.request.by, "the full load asked for is done"),
        Ok(false) => tracing::info!("the full load request changed since the transform; kept"),
        Err(e) => tracing::warn!(
            error = %e,
            "the full load request could not be removed; the next scheduled day is full again"
        ),
    }
}

/// Now in the library's time zone, once the clock reaches a whole second: a stamp of now is
/// then not before this moment (a loader run earlier in that second would make Alma skip
/// the file) and, as the rename follows at once, not after the file appears (a run before
/// the stamp's time could take it twice).
#[cfg(feature = "sftp")]
async fn at_a_whole_second(ctx: &StepContext) -> NaiveDateTime {
    let now = ctx.local_now();
    let next = receipt::whole_second_from(now);
    tokio::time::sleep((next - now).to_std().unwrap_or_default()).await;
    next
}

/// What a first attempt found: the day loaded already, or the file to push.
#[cfg(feature = "sftp")]
enum Prepared {
    Done(PushOutput),
    Push(ToPush),
}

/// The file to push: the transform's, checked against the day's receipt and the newest
/// day loaded, through the fresh guard, and recorded (with its temporary name on Alma's
/// server) before the upload. Its name is chosen once it is up ([`upload`]).
#[cfg(feature = "sftp")]
async fn prepare(
    ctx: &StepContext,
    input: &PushInput,
    receipt_key: &str,
) -> Result<Prepared, StepError> {
    let stamp = summary_stamp(ctx, input).await?;
    let key = loader_key(ctx, input, stamp.as_ref()).await?;
    let scanned = stream::scan(ctx, &key).await?;
    // The day's receipt first: a day already loaded needs no fresh checks.
    let original_sha = scanned.sha256.clone();
    if let Some(done) = loaded_already(ctx, input, receipt_key, &original_sha, &key).await? {
        return Ok(Prepared::Done(done));
    }
    let newest = receipt::newest_receipt(&ctx.store).await?;
    if let Some(later) = newest.as_ref().filter(|r| r.run_date > input.run.run_date) {
        if !input.run.force {
            return Err(StepError::out_of_order(input.run.run_date, later));
        }
    }
    let made_at = stamp.and_then(|s| s.made_at);
    let deletes = scanned.deletes.clone();
    let guarded = fresh_guard(ctx, key.clone(), scanned, made_at).await?;
    // After the guard, so a ROLLOVER row is never taken for a DELETE it drops.
    let with =
        rollovers::add_rollovers(ctx, &input.run, guarded.key, guarded.sha256, &deletes).await?;
    let chosen_at = ctx.now();
    let intent = PushIntent {
        temp_name: temporary_upload_name(ctx.local_now()),
        file_name: None,
        loader_key: with.key,
        transform_key: key,
        source_sha256: (with.sha256 != original_sha).then_some(original_sha),
        sha256: with.sha256,
        deletes_dropped: guarded.dropped,
        rollovers: with.counts,
        execution_arn: input.run.execution_arn.clone(),
        chosen_at,
    };
    ctx.store
        .put_json(&input.run.day().push_intent(), &intent)
        .await?;
    Ok(Prepared::Push(ToPush { intent }))
}

/// `.20261128092514.txt.part`: hidden and never a loader file name, yet one the stale
/// upload clean-up knows as ours ([`crate::sftp::upload_of_temporary_name`]).
#[cfg(feature = "sftp")]
fn temporary_upload_name(now: NaiveDateTime) -> String {
    crate::sftp::temporary_name(&format!("{}.txt", crate::store::file_stamp(now)))
}

/// What the day's receipt says of the transform's file: loaded already (a no-op), another
/// file loaded (`AlreadyPushed` unless forced), or nothing yet (`None`: go on).
#[cfg(feature = "sftp")]
async fn loaded_already(
    ctx: &StepContext,
    input: &PushInput,
    receipt_key: &str,
    sha256: &str,
    key: &str,
) -> Result<Option<PushOutput>, StepError> {
    match recorded(ctx, receipt_key, sha256).await? {
        Recorded::Same(receipt) => {
            tracing::info!(file = %receipt.file_name, "the day already has these bytes loaded");
            Ok(Some(no_op(receipt)))
        }
        Recorded::Other(receipt, _) if !input.run.force => {
            Err(already_pushed(&receipt, file_name(key)))
        }
        Recorded::Other(..) | Recorded::None => Ok(None),
    }
}

/// The loader file to push, as the fresh guard left it in S3, and where it goes.
#[cfg(feature = "sftp")]
struct ToPush {
    intent: PushIntent,
}

/// Where the file is on Alma's server after [`upload`].
#[cfg(feature = "sftp")]
#[derive(Debug, Clone)]
struct Uploaded {
    file_name: String,
    remote_path: String,
    bytes: u64,
    /// An identical file was there under the name already.
    already_there: bool,
}

#[cfg(feature = "sftp")]
impl ToPush {
    /// The file an earlier attempt of this execution chose.
    fn again(intent: PushIntent) -> ToPush {
        tracing::info!(
            loader_key = %intent.loader_key,
            file = ?intent.file_name,
            temp = %intent.temporary_name(),
            "sending the file an earlier attempt chose"
        );
        ToPush { intent }
    }

    /// The day's receipt for this file, as uploaded, pushed at `pushed_at`.
    fn receipt(
        &self,
        input: &PushInput,
        uploaded: &Uploaded,
        pushed_at: DateTime<Utc>,
        forced: bool,
    ) -> PushReceipt {
        let intent = &self.intent;
        PushReceipt {
            run_date: input.run.run_date,
            file_name: uploaded.file_name.clone(),
            loader_key: intent.loader_key.clone(),
            transform_key: Some(intent.transform_key.clone()),
            sha256: intent.sha256.clone(),
            bytes: uploaded.bytes,
            pushed_at,
            execution_arn: input.run.execution_arn.clone(),
            execution_name: input.run.execution_name.clone(),
            source_sha256: intent.source_sha256.clone(),
            forced,
        }
    }
}

/// Uploads the file once and writes the day's receipt with a conditional write. Decided
/// again whenever another writer changed the receipt in between, at most three times.
#[cfg(feature = "sftp")]
async fn push_and_record(
    ctx: &StepContext,
    input: &PushInput,
    receipt_key: &str,
    mut file: ToPush,
) -> Result<PushOutput, StepError> {
    let mut pushed: Option<Uploaded> = None;
    for _ in 0..3 {
        let current = recorded(ctx, receipt_key, &file.intent.sha256).await?;
        let etag = match &current {
            Recorded::Same(receipt) if pushed.is_none() => {
                return Ok(PushOutput {
                    deletes_dropped_at_push: file.intent.deletes_dropped,
                    rollovers: file.intent.rollovers.clone(),
                    ..no_op(receipt.clone())
                })
            }
            Recorded::Same(_) => None,
            Recorded::Other(receipt, _) if !input.run.force => {
                return Err(already_pushed(
                    receipt,
                    file_name(&file.intent.transform_key),
                ));
            }
            Recorded::Other(_, etag) => Some(etag.clone()),
            Recorded::None => None,
        };
        let uploaded = match &pushed {
            Some(uploaded) => uploaded.clone(),
            None => pushed.insert(upload(ctx, input, &mut file).await?).clone(),
        };
        let pushed_at = ctx.now().trunc_subsecs(0);
        let receipt = file.receipt(input, &uploaded, pushed_at, etag.is_some());
        if !write_receipt(ctx, receipt_key, &receipt, &current, etag.as_deref()).await? {
            tracing::warn!(receipt = %receipt_key, "the receipt changed meanwhile; deciding again");
            continue;
        }
        return Ok(pushed_output(file, uploaded, &receipt));
    }
    Err(StoreError::Unavailable {
        operation: "PutObject",
        bucket: ctx.store.bucket().to_string(),
        key: receipt_key.to_string(),
        source: "the push receipt kept changing under three conditional writes".into(),
    }
    .into())
}

/// Puts the file on Alma's server: up under its temporary name first, then named for the
/// time it is whole there ([`receipt::upload_name`]), the name recorded in the intent, and
/// renamed. A retry that finds a name recorded goes on from where the earlier attempt
/// stopped: the file there under it (`already_there`), or still under the temporary name.
#[cfg(feature = "sftp")]
async fn upload(
    ctx: &StepContext,
    input: &PushInput,
    file: &mut ToPush,
) -> Result<Uploaded, StepError> {
    let sftp = ctx.alma_sftp().await?;
    let intent = &mut file.intent;
    let temp = intent.temporary_name();
    let remote_path =
        |name: &str| format!("{}/{name}", sftp.login().directory.trim_end_matches('/'));
    if let Some(name) = intent.file_name.clone() {
        if let Some(there) = sftp.digest(&name).await? {
            if there.sha256 != intent.sha256 {
                let ours = ctx.store.list(&intent.loader_key).await?;
                return Err(crate::sftp::SftpError::Conflict {
                    path: remote_path(&name),
                    existing_size: there.bytes,
                    new_size: ours.first().map_or(0, |o| o.size),
                }
                .into());
            }
            return Ok(Uploaded {
                remote_path: remote_path(&name),
                file_name: name,
                bytes: there.bytes,
                already_there: true,
            });
        }
    }
    let up = match sftp.digest(&temp).await? {
        // Named already, and whole under the temporary name: only the rename is left.
        Some(up) if intent.file_name.is_some() && up.sha256 == intent.sha256 => up,
        _ => stream::send(ctx, &sftp, &intent.loader_key, &temp, &intent.sha256).await?,
    };
    let name = match intent.file_name.clone() {
        Some(name) => name,
        None => {
            let newest = receipt::newest_receipt(&ctx.store).await?;
            let name = receipt::upload_name(at_a_whole_second(ctx).await, newest.as_ref());
            intent.file_name = Some(name.clone());
            ctx.store
                .put_json(&input.run.day().push_intent(), &*intent)
                .await?;
            name
        }
    };
    let outcome = sftp.rename_new(&temp, &name).await?;
    Ok(Uploaded {
        remote_path: remote_path(&name),
        file_name: name,
        bytes: up.bytes,
        already_there: outcome == UploadOutcome::AlreadyPresent,
    })
}

/// Writes the receipt: over the other file's receipt at `etag` (forced), or only where
/// there is none; the same bytes already recorded need no write. False when another
/// writer got there first.
#[cfg(feature = "sftp")]
async fn write_receipt(
    ctx: &StepContext,
    receipt_key: &str,
    receipt: &PushReceipt,
    current: &Recorded,
    etag: Option<&str>,
) -> Result<bool, StepError> {
    let body = serde_json::to_vec_pretty(receipt).map_err(|source| StoreError::BadJson {
        bucket: ctx.store.bucket().to_string(),
        key: receipt_key.to_string(),
        source,
    })?;
    Ok(match (current, etag) {
        (Recorded::Same(_), _) => true,
        (_, Some(etag)) => {
            ctx.store
                .replace_if(receipt_key, etag, body, content_type::JSON)
                .await?
        }
        (_, None) => {
            ctx.store
                .put_new(receipt_key, body, content_type::JSON)
                .await?
        }
    })
}

/// The push's log line and its output.
#[cfg(feature = "sftp")]
fn pushed_output(file: ToPush, uploaded: Uploaded, receipt: &PushReceipt) -> PushOutput {
    tracing::info!(
        loader_key = %file.intent.loader_key,
        remote_path = %uploaded.remote_path,
        bytes = uploaded.bytes,
        sha256 = %file.intent.sha256,
        already_there = uploaded.already_there,
        forced = receipt.forced,
        deletes_dropped_at_push = file.intent.deletes_dropped,
        "pushed the loader file"
    );
    PushOutput {
        file_name: uploaded.file_name,
        remote_path: Some(uploaded.remote_path),
        bytes: uploaded.bytes,
        pushed_at: receipt.pushed_at,
        already_there: uploaded.already_there,
        recalled: false,
        sha256: file.intent.sha256,
        loader_key: Some(file.intent.loader_key),
        deletes_dropped_at_push: file.intent.deletes_dropped,
        forced: receipt.forced,
        rollovers: file.intent.rollovers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The step's answer, used here with or without the `sftp` feature.
    use crate::run::outputs::PushOutput;

    fn row(code: &str, section: &str, year: &str, operation: &str) -> String {
        let mut fields = vec![""; LOADER_COLUMNS.len()];
        fields[column("Course Code")] = code;
        fields[column("Section ID")] = section;
        fields[column("Year")] = year;
        fields[column("Operation")] = operation;
        fields.join("\t")
    }

    #[test]
    fn delete_rows_are_found_by_their_operation_column() {
        let file = [
            LOADER_COLUMNS.join("\t"),
            row("2026Fall-X-ENG101-1", "1", "2026", ""),
            row("2026Fall-X-CHM441-2", "46816", "2026", "DELETE"),
            row("2026Fall-X-BIO100-3", "3", "2026", "ROLLOVER"),
            String::new(),
        ]
        .join("\r\n");
        assert_eq!(
            delete_rows(&file),
            vec![DeleteRow {
                line: 2,
                code: "2026Fall-X-CHM441-2".into(),
                section: "46816".into(),
                year: "2026".into(),
            }]
        );
    }

    #[test]
    fn dropping_lines_keeps_the_rest_byte_for_byte() {
        let file = "H\r\na\r\nb\r\nc\r\n";
        assert_eq!(without_lines(file, &HashSet::from([2])), "H\r\na\r\nc\r\n");
        assert_eq!(without_lines(file, &HashSet::new()), file);
    }

    #[test]
    fn lines_split_across_chunks_are_filtered_as_if_whole() {
        let file = "H\r\na\r\n\r\nb\nstill b\r\nc\r\nd";
        let drop = HashSet::from([1, 3]);
        let whole = without_lines(file, &drop);
        assert_eq!(whole, "H\r\n\r\nc\r\nd");
        for size in 1..file.len() {
            let mut out = Vec::new();
            let mut filter = LineFilter::new(drop.clone());
            for chunk in file.as_bytes().chunks(size) {
                filter.push(chunk, &mut out);
            }
            filter.finish(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_receiptless_output_reads_with_defaults() {
        let output: PushOutput = serde_json::from_value(serde_json::json!({
            "file_name": "20261128092514.txt", "bytes": 3,
            "pushed_at": "2026-11-28T16:25:14Z"
        }))
        .unwrap();
        assert!(output.sha256.is_empty());
        assert_eq!(output.deletes_dropped_at_push, 0);
        let json = serde_json::to_value(&output).unwrap();
        assert!(json.get("deletes_dropped_at_push").is_none());
    }
}
