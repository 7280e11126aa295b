//! The run's S3 bucket: one folder per artefact kind and day, as people browse it.
//!
//! ```text
//! cem/2026/11/28/leganto_export_20261128.csv        raw export, exactly as pulled
//! alma/2026/11/28/20261128092514.txt                course loader file as pushed
//! reports/2026/11/28/run-summary.json               run summary
//! reports/2026/11/28/rejects.csv                    rejected rows
//! reports/2026/11/28/rollover_20261128113002.txt    rollover report
//! cache/2026/11/28/courses-2025.json                Alma course cache per year
//! cache/2026/11/28/answers/before-push/pages-2025.json  Alma answers saved as learned
//! alma/2026/11/28/pushed.json                       push receipt: the one file loaded that day
//! locks/2026/11/28/run.json                         lease of the execution running the day
//! reports/2026/11/28/decision.json                  a person's decision on a held day
//! reports/2026/11/28/index.html                     the day page (and figures.json beside it)
//! dry-run/2026/11/28/{cem,alma,reports,cache,locks}/…   what a dry run writes, never live
//! config/rules.toml                                 the institution rules in force (versioned)
//! ```
//! A missing artefact is [`StoreError::NotFound`] naming the key (stable name
//! `ArtefactMissing`), so a rerun that starts late says exactly what it looked for.

mod streamed;

pub use streamed::{ObjectReader, Parts, StreamedObject, WrittenObject, PART_BYTES};

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::instrument;

/// Content types that make the console show the files rather than download them.
pub mod content_type {
    pub const TEXT: &str = "text/plain; charset=utf-8";
    pub const CSV: &str = "text/csv; charset=utf-8";
    /// The CEM export arrives in Windows-1252 and is stored byte for byte.
    pub const CSV_WINDOWS_1252: &str = "text/csv; charset=windows-1252";
    pub const JSON: &str = "application/json";
    pub const HTML: &str = "text/html; charset=utf-8";
    pub const GZIP: &str = "application/gzip";
    pub const TOML: &str = "application/toml";
}

/// Stamp used in file names: `YYYYMMDDHHMMSS` (local time of the library).
pub fn file_stamp(at: NaiveDateTime) -> String {
    at.format(FILE_STAMP).to_string()
}

/// The local time a loader file's name (`YYYYMMDDHHMMSS.txt`) stamps, if it is one.
pub fn stamp_of_file(name: &str) -> Option<NaiveDateTime> {
    let stamp = name.strip_suffix(".txt")?;
    NaiveDateTime::parse_from_str(stamp, FILE_STAMP).ok()
}

const FILE_STAMP: &str = "%Y%m%d%H%M%S";

/// The prefix under which a dry run writes everything: `dry-run/`.
pub const DRY_RUN_ROOT: &str = "dry-run/";
/// The baseline of delta loads: the course rows of the last day Alma loaded (gzip), and
/// what day that was. Under `state/`, outside the expiry rule; a dry run never writes here.
pub const BASELINE_ROWS: &str = "state/baseline-course-rows.tsv.gz";
pub const BASELINE: &str = "state/baseline.json";
/// A person's request for a full load on the next scheduled day (`leganto full-load next`);
/// under `state/`, so it waits however long the next scheduled day takes.
pub const FULL_LOAD_REQUEST: &str = "state/full-load-request.json";

/// Keys of one run date's artefacts: the live ones, or a dry run's under
/// `dry-run/YYYY/MM/DD/<kind>/`, which no live run ever reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayKeys {
    run_date: NaiveDate,
    day: String,
    dry_run: bool,
}

impl DayKeys {
    pub fn new(run_date: NaiveDate) -> DayKeys {
        DayKeys {
            run_date,
            day: run_date.format("%Y/%m/%d").to_string(),
            dry_run: false,
        }
    }

    /// The keys a dry run of `run_date` writes (and reads back first).
    pub fn dry_run(run_date: NaiveDate) -> DayKeys {
        DayKeys {
            dry_run: true,
            ..DayKeys::new(run_date)
        }
    }

    /// Live or dry-run keys, as `dry_run` says.
    pub fn for_run(run_date: NaiveDate, dry_run: bool) -> DayKeys {
        if dry_run {
            DayKeys::dry_run(run_date)
        } else {
            DayKeys::new(run_date)
        }
    }

    pub fn run_date(&self) -> NaiveDate {
        self.run_date
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The live keys of the same day (a dry run reads the live export when it has none).
    pub fn live(&self) -> DayKeys {
        DayKeys::new(self.run_date)
    }

    /// `<kind>/2026/11/28/` live, `dry-run/2026/11/28/<kind>/` in a dry run.
    fn prefix(&self, kind: &str) -> String {
        if self.dry_run {
            format!("{DRY_RUN_ROOT}{}/{kind}/", self.day)
        } else {
            format!("{kind}/{}/", self.day)
        }
    }

    /// `cem/2026/11/28/`
    pub fn cem_prefix(&self) -> String {
        self.prefix("cem")
    }

    /// `cem/2026/11/28/<export name>` (the name as found on the CEM server).
    pub fn cem_export(&self, export_name: &str) -> String {
        format!("{}{export_name}", self.cem_prefix())
    }

    /// `alma/2026/11/28/`
    pub fn alma_prefix(&self) -> String {
        self.prefix("alma")
    }

    /// `alma/2026/11/28/pushed.json`: the receipt of the day's one push.
    pub fn push_receipt(&self) -> String {
        format!("{}pushed.json", self.alma_prefix())
    }

    /// `alma/2026/11/28/pushing.json`: the name a push chose for the day's file, written
    /// before the upload so a retried push sends the same file under the same name.
    pub fn push_intent(&self) -> String {
        format!("{}pushing.json", self.alma_prefix())
    }

    /// `locks/2026/11/28/run.json`: the lease of the execution running the day.
    pub fn lease(&self) -> String {
        format!("{}run.json", self.prefix("locks"))
    }

    /// `alma/2026/11/28/<YYYYMMDDHHMMSS>.txt`
    pub fn alma_loader_file(&self, pushed_at: NaiveDateTime) -> String {
        format!("{}{}.txt", self.alma_prefix(), file_stamp(pushed_at))
    }

    /// `reports/2026/11/28/`
    pub fn reports_prefix(&self) -> String {
        self.prefix("reports")
    }

    /// `reports/2026/11/28/decision.json`: a person's approve or reject of a held day.
    pub fn hold_decision(&self) -> String {
        format!("{}decision.json", self.reports_prefix())
    }

    /// `reports/2026/11/28/run-summary.json`
    pub fn run_summary(&self) -> String {
        format!("{}run-summary.json", self.reports_prefix())
    }

    /// `reports/2026/11/28/index.html`: the day page, written at the end of every run.
    pub fn day_page(&self) -> String {
        format!("{}index.html", self.reports_prefix())
    }

    /// `reports/2026/11/28/figures.json`: the run's figures, which later pages chart.
    pub fn day_figures(&self) -> String {
        format!("{}figures.json", self.reports_prefix())
    }

    /// `reports/2026/11/28/course-rows.tsv.gz`: the day's course rows (course-loading.md
    /// §8), the baseline once Alma has loaded the day.
    pub fn course_rows(&self) -> String {
        format!("{}course-rows.tsv.gz", self.reports_prefix())
    }

    /// `reports/2026/11/28/rejects.csv`
    pub fn rejects(&self) -> String {
        format!("{}rejects.csv", self.reports_prefix())
    }

    /// `reports/2026/11/28/rollover_` — for [`Store::latest`].
    pub fn rollover_prefix(&self) -> String {
        format!("{}rollover_", self.reports_prefix())
    }

    /// `reports/2026/11/28/rollover-marks.tsv`: each row of the day's rollover report with
    /// where the ledger has it (course-loading.md §10). Not under [`Self::rollover_prefix`].
    pub fn rollover_marks(&self) -> String {
        format!("{}rollover-marks.tsv", self.reports_prefix())
    }

    /// `reports/2026/11/28/rollover_<YYYYMMDDHHMMSS>.txt`
    pub fn rollover_report(&self, made_at: NaiveDateTime) -> String {
        format!("{}{}.txt", self.rollover_prefix(), file_stamp(made_at))
    }

    /// `cache/2026/11/28/`
    pub fn cache_prefix(&self) -> String {
        self.prefix("cache")
    }

    /// `cache/2026/11/28/courses-<year>.json`
    pub fn course_cache(&self, year: i32) -> String {
        format!("{}courses-{year}.json", self.cache_prefix())
    }

    /// `cache/2026/11/28/answers/<phase>/`: what the day's steps learned from Alma, saved as
    /// they go; `phase` is `before-push` or `after-push` (Alma changes when it loads).
    pub fn answers_prefix(&self, phase: &str) -> String {
        format!("{}answers/{phase}/", self.cache_prefix())
    }

    /// `cache/2026/11/28/answers/<phase>/reading-lists.json`
    pub fn reading_list_answers(&self, phase: &str) -> String {
        format!("{}reading-lists.json", self.answers_prefix(phase))
    }

    /// `cache/2026/11/28/answers/<phase>/pages-<year>.json`
    pub fn page_answers(&self, phase: &str, year: &str) -> String {
        format!("{}pages-{year}.json", self.answers_prefix(phase))
    }
}

/// The file name part of a key (`alma/2026/11/28/x.txt` → `x.txt`).
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

/// The version id S3 gives an object written while versioning was off or suspended.
const NO_VERSION: &str = "null";

/// One object with what S3 says of its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedObject {
    pub bytes: Bytes,
    pub etag: String,
    /// None from a bucket that never had versioning on.
    pub version_id: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

use crate::error::BoxError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("artefact missing: s3://{bucket}/{key}")]
    NotFound { bucket: String, key: String },
    #[error("S3 {operation} failed for s3://{bucket}/{key}")]
    Unavailable {
        operation: &'static str,
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },
    #[error("s3://{bucket}/{key} is not the JSON expected")]
    BadJson {
        bucket: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "s3://{bucket}/{key} changed after it was chosen (SHA-256 {expected} recorded, \
         {actual} read); nothing was loaded from it. Rerun the day from transform"
    )]
    Changed {
        bucket: String,
        key: String,
        expected: String,
        actual: String,
    },
}

impl crate::error::ErrorName for StoreError {
    fn error_name(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "ArtefactMissing",
            StoreError::Unavailable { .. } => "StoreUnavailable",
            StoreError::BadJson { .. } | StoreError::Changed { .. } => "ArtefactInvalid",
        }
    }
}

/// The run's bucket.
#[derive(Debug, Clone)]
pub struct Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

/// An S3 client for `sdk`. With a custom endpoint (`AWS_ENDPOINT_URL`, e.g. moto) path-style
/// addressing is forced: for `http://localhost:PORT` the SDK would otherwise ask for
/// `bucket.localhost`, which does not resolve (an IP endpoint gets path style anyway).
/// Against AWS itself the SDK's default applies.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Store {
        Store {
            client,
            bucket: bucket.into(),
        }
    }

    /// A store whose client is built by [`s3_client`].
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Store {
        Store::new(s3_client(sdk), bucket)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    fn unavailable(
        &self,
        operation: &'static str,
        key: &str,
        source: impl Into<BoxError>,
    ) -> StoreError {
        StoreError::Unavailable {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            source: source.into(),
        }
    }

    /// A PutObject of `bytes` under `key`, for the caller to add a condition to and send.
    fn put_request(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
    }

    /// What a conditional request came to: `Ok(true)` done, `Ok(false)` lost to another
    /// writer (412 Precondition Failed; 409 ConditionalRequestConflict when two conditional
    /// writes meet; with `If-Match`, 404 when the object went meanwhile).
    fn conditional<O, E>(
        &self,
        operation: &'static str,
        key: &str,
        result: Result<O, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
        gone_is_lost: bool,
    ) -> Result<bool, StoreError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Ok(self
            .conditional_output(operation, key, result, gone_is_lost)?
            .is_some())
    }

    /// As [`Store::conditional`], keeping the answer: `None` when lost to another writer.
    fn conditional_output<O, E>(
        &self,
        operation: &'static str,
        key: &str,
        result: Result<O, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
        gone_is_lost: bool,
    ) -> Result<Option<O>, StoreError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let err = match result {
            Ok(output) => return Ok(Some(output)),
            Err(err) => err,
        };
        match err.raw_response().map(|r| r.status().as_u16()) {
            Some(412 | 409) => Ok(None),
            Some(404) if gone_is_lost => Ok(None),
            _ => Err(self.unavailable(operation, key, err)),
        }
    }

    /// Writes `bytes` under `key` (replacing any object there).
    #[instrument(skip(self, bytes), fields(bucket = %self.bucket, bytes = tracing::field::Empty), err)]
    pub async fn put(
        &self,
        key: &str,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let bytes: Bytes = bytes.into();
        tracing::Span::current().record("bytes", bytes.len());
        self.put_request(key, bytes, content_type)
            .send()
            .await
            .map_err(|e| self.unavailable("PutObject", key, e))?;
        Ok(())
    }

    /// Writes `bytes` under `key` only if no object is there (S3's `If-None-Match: *`).
    /// `Ok(false)`: another writer got there first, and nothing was written.
    #[instrument(skip(self, bytes), fields(bucket = %self.bucket), err)]
    pub async fn put_new(
        &self,
        key: &str,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .put_request(key, bytes.into(), content_type)
            .if_none_match("*")
            .send()
            .await;
        self.conditional("PutObject", key, result, false)
    }

    /// Replaces the object under `key` only if it is still the version read (its ETag).
    /// `Ok(false)`: it changed or went in between, and nothing was written.
    #[instrument(skip(self, bytes), fields(bucket = %self.bucket), err)]
    pub async fn replace_if(
        &self,
        key: &str,
        etag: &str,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<bool, StoreError> {
        let result = self
            .put_request(key, bytes.into(), content_type)
            .if_match(etag)
            .send()
            .await;
        self.conditional("PutObject", key, result, true)
    }

    /// Writes `bytes` under `key` only if the object there is still `etag` (`If-Match`),
    /// or with `None` only if there is none (`If-None-Match: *`), so two writers never
    /// silently overwrite each other. `Ok(None)`: another writer came first, nothing was
    /// written; else `Some` of the new object's version id (itself `None` from a bucket
    /// without versioning).
    #[instrument(skip(self, bytes), fields(bucket = %self.bucket), err)]
    pub async fn put_version_if(
        &self,
        key: &str,
        etag: Option<&str>,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        let request = self.put_request(key, bytes.into(), content_type);
        let request = match etag {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        let result = request.send().await;
        let written = self.conditional_output("PutObject", key, result, etag.is_some())?;
        Ok(written.map(|out| {
            out.version_id()
                .filter(|v| *v != NO_VERSION)
                .map(str::to_string)
        }))
    }

    /// Deletes `key` only if it is still the version read (its ETag). `Ok(false)`: it
    /// changed or is gone, and nothing was deleted.
    #[instrument(skip(self), fields(bucket = %self.bucket), err)]
    pub async fn delete_if(&self, key: &str, etag: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(etag)
            .send()
            .await;
        self.conditional("DeleteObject", key, result, true)
    }

    /// GetObject's answer, body unread; `None` when there is no such key.
    async fn get_object(
        &self,
        key: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(self.unavailable("GetObject", key, err)),
        }
    }

    /// The object and its ETag (for [`Store::replace_if`], [`Store::delete_if`]);
    /// `None` when there is none.
    #[instrument(skip(self), fields(bucket = %self.bucket), err)]
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, String)>, StoreError> {
        let Some(output) = self.get_object(key).await? else {
            return Ok(None);
        };
        let etag = output.e_tag.clone().unwrap_or_default();
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| self.unavailable("GetObject", key, e))?;
        Ok(Some((body.into_bytes(), etag)))
    }

    /// The object with its ETag, version id and time; `None` when there is none.
    #[instrument(skip(self), fields(bucket = %self.bucket), err)]
    pub async fn get_with_version(&self, key: &str) -> Result<Option<VersionedObject>, StoreError> {
        let Some(output) = self.get_object(key).await? else {
            return Ok(None);
        };
        let etag = output.e_tag.clone().unwrap_or_default();
        let version_id = output.version_id.clone().filter(|v| v != NO_VERSION);
        let last_modified = output
            .last_modified
            .as_ref()
            .and_then(crate::config::aws_time);
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| self.unavailable("GetObject", key, e))?;
        Ok(Some(VersionedObject {
            bytes: body.into_bytes(),
            etag,
            version_id,
            last_modified,
        }))
    }

    /// [`Store::get_versioned`], read as JSON; not the JSON expected is
    /// [`StoreError::BadJson`].
    pub async fn get_json_versioned<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, String)>, StoreError> {
        let Some((bytes, etag)) = self.get_versioned(key).await? else {
            return Ok(None);
        };
        Ok(Some((self.parse_json(key, &bytes)?, etag)))
    }

    /// Reads the whole object; a missing key is [`StoreError::NotFound`].
    #[instrument(skip(self), fields(bucket = %self.bucket), err)]
    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        match self.get_versioned(key).await? {
            Some((bytes, _)) => Ok(bytes),
            None => Err(StoreError::NotFound {
                bucket: self.bucket.clone(),
                key: key.to_string(),
            }),
        }
    }

    /// Streams the object into `out` chunk by chunk, never whole in memory (a day's export
    /// can be hundreds of MB); a missing key is [`StoreError::NotFound`]. Returns the bytes
    /// written. A failed write to `out` (a full /tmp) is reported as the GetObject failing.
    #[instrument(skip(self, out), fields(bucket = %self.bucket, bytes = tracing::field::Empty), err)]
    pub async fn download(
        &self,
        key: &str,
        out: &mut impl std::io::Write,
    ) -> Result<u64, StoreError> {
        let Some(output) = self.get_object(key).await? else {
            return Err(StoreError::NotFound {
                bucket: self.bucket.clone(),
                key: key.to_string(),
            });
        };
        let mut body = output.body;
        let mut written = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| self.unavailable("GetObject", key, e))?
        {
            out.write_all(&chunk)
                .map_err(|e| self.unavailable("GetObject", key, e))?;
            written += chunk.len() as u64;
        }
        out.flush()
            .map_err(|e| self.unavailable("GetObject", key, e))?;
        tracing::Span::current().record("bytes", written);
        Ok(written)
    }

    /// Writes the file at `path` under `key` (replacing any object there), streamed from
    /// disk rather than held in memory.
    #[instrument(skip(self, path), fields(bucket = %self.bucket), err)]
    pub async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> Result<(), StoreError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| self.unavailable("PutObject", key, e))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| self.unavailable("PutObject", key, e))?;
        Ok(())
    }

    /// Whether `key` exists.
    #[instrument(skip(self), fields(bucket = %self.bucket), err)]
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(self.unavailable("HeadObject", key, err)),
        }
    }

    /// Every object whose key starts with `prefix`, in key order.
    #[instrument(skip(self), fields(bucket = %self.bucket), err)]
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.unavailable("ListObjectsV2", prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                objects.push(ObjectInfo {
                    key: key.to_string(),
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    last_modified: object.last_modified().and_then(crate::config::aws_time),
                });
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// The greatest key starting with `prefix` (e.g. `alma/2026/11/28/` or
    /// `reports/2026/11/28/rollover_`). Our file names carry `YYYYMMDDHHMMSS`, so the greatest
    /// key is the newest file, and the choice does not depend on upload clocks.
    pub async fn latest(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        Ok(self.list(prefix).await?.into_iter().map(|o| o.key).max())
    }

    /// Writes `value` as pretty JSON.
    pub async fn put_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::BadJson {
            bucket: self.bucket.clone(),
            key: key.to_string(),
            source,
        })?;
        self.put(key, bytes, content_type::JSON).await
    }

    /// Reads and parses a JSON artefact.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<T, StoreError> {
        let bytes = self.get(key).await?;
        self.parse_json(key, &bytes)
    }

    fn parse_json<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::BadJson {
            bucket: self.bucket.clone(),
            key: key.to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorName as _;

    #[test]
    fn day_keys_follow_the_bucket_layout() {
        let day = DayKeys::new(NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        let pushed = NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(9, 25, 14)
            .unwrap();
        let made = NaiveDate::from_ymd_opt(2026, 11, 28)
            .unwrap()
            .and_hms_opt(11, 30, 2)
            .unwrap();
        assert_eq!(
            day.cem_export("leganto_export_20261128.csv"),
            "cem/2026/11/28/leganto_export_20261128.csv"
        );
        assert_eq!(
            day.alma_loader_file(pushed),
            "alma/2026/11/28/20261128092514.txt"
        );
        assert_eq!(day.run_summary(), "reports/2026/11/28/run-summary.json");
        assert_eq!(day.rejects(), "reports/2026/11/28/rejects.csv");
        assert_eq!(
            day.rollover_report(made),
            "reports/2026/11/28/rollover_20261128113002.txt"
        );
        assert_eq!(day.course_cache(2025), "cache/2026/11/28/courses-2025.json");
        assert!(day
            .rollover_report(made)
            .starts_with(&day.rollover_prefix()));
    }

    #[test]
    fn a_dry_run_writes_only_under_its_own_root() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let dry = DayKeys::dry_run(date);
        assert_eq!(dry.cem_prefix(), "dry-run/2026/11/28/cem/");
        assert_eq!(dry.alma_prefix(), "dry-run/2026/11/28/alma/");
        assert_eq!(
            dry.run_summary(),
            "dry-run/2026/11/28/reports/run-summary.json"
        );
        assert_eq!(
            dry.course_cache(2025),
            "dry-run/2026/11/28/cache/courses-2025.json"
        );
        assert_eq!(dry.lease(), "dry-run/2026/11/28/locks/run.json");
        assert_eq!(dry.live(), DayKeys::new(date));
        let live = DayKeys::for_run(date, false);
        assert_eq!(live.push_receipt(), "alma/2026/11/28/pushed.json");
        assert_eq!(live.lease(), "locks/2026/11/28/run.json");
        assert_eq!(live.hold_decision(), "reports/2026/11/28/decision.json");
        for key in [
            live.push_receipt(),
            live.lease(),
            live.hold_decision(),
            live.run_summary(),
        ] {
            assert!(!key.starts_with(DRY_RUN_ROOT), "{key}");
        }
    }

    #[test]
    fn single_digit_months_and_days_are_zero_padded() {
        let day = DayKeys::new(NaiveDate::from_ymd_opt(2027, 1, 5).unwrap());
        assert_eq!(day.rejects(), "reports/2027/01/05/rejects.csv");
        assert_eq!(file_name(&day.rejects()), "rejects.csv");
    }

    #[test]
    fn missing_artefact_error_names_the_key_and_has_a_stable_name() {
        let err = StoreError::NotFound {
            bucket: "runs".into(),
            key: "reports/2026/11/28/run-summary.json".into(),
        };
        assert_eq!(err.error_name(), "ArtefactMissing");
        assert!(err
            .to_string()
            .contains("reports/2026/11/28/run-summary.json"));
    }
}
