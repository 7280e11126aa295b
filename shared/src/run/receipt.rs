//! The push receipt, `alma/YYYY/MM/DD/pushed.json`: which one file was loaded for a run
//! date, written by Push with a conditional write so a day is loaded exactly once. Plan
//! recalls a push only from it, and the safety brake compares a day with the last day
//! that has one.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::run::rollovers::PushedRollovers;
use crate::store::{file_stamp, stamp_of_file, DayKeys, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReceipt {
    pub run_date: NaiveDate,
    /// The loader file's name on Alma's server: the time of the upload.
    pub file_name: String,
    /// Where the pushed bytes are kept in S3: the transform's file, or the one the fresh
    /// guard wrote without the DELETE rows it dropped.
    pub loader_key: String,
    /// The transform's file the push started from (the day's course rows are its rows);
    /// absent in receipts from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_key: Option<String>,
    /// Lower-case hex SHA-256 of the bytes pushed.
    pub sha256: String,
    pub bytes: u64,
    pub pushed_at: DateTime<Utc>,
    #[serde(default)]
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: String,
    /// When the fresh guard dropped DELETE rows at the push: the SHA-256 of the file it
    /// started from, so pushing that file again is known as the same load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    /// Pushed over an earlier receipt with `"force": true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

/// Lower-case hex SHA-256, as receipts record it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The live receipt of `run_date`, if that day was pushed.
pub async fn read_receipt(
    store: &Store,
    run_date: NaiveDate,
) -> Result<Option<PushReceipt>, StoreError> {
    match store.get_json(&DayKeys::new(run_date).push_receipt()).await {
        Ok(receipt) => Ok(Some(receipt)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The receipt of the last day loaded before `run_date` (within what S3 keeps), if any.
pub async fn last_loaded_before(
    store: &Store,
    run_date: NaiveDate,
) -> Result<Option<PushReceipt>, StoreError> {
    Ok(loaded_days_before(store, run_date, 1).await?.pop())
}

/// The receipts of up to `count` days loaded before `run_date`, newest first.
pub async fn loaded_days_before(
    store: &Store,
    run_date: NaiveDate,
    count: usize,
) -> Result<Vec<PushReceipt>, StoreError> {
    let mut days: Vec<NaiveDate> = store
        .list("alma/")
        .await?
        .into_iter()
        .filter_map(|o| receipt_date(&o.key))
        .filter(|d| *d < run_date)
        .collect();
    days.sort_unstable();
    let mut receipts = Vec::new();
    for day in days.into_iter().rev() {
        if receipts.len() == count {
            break;
        }
        if let Some(receipt) = read_receipt(store, day).await? {
            receipts.push(receipt);
        }
    }
    Ok(receipts)
}

/// The receipt of the newest day loaded (by run date), if any.
pub async fn newest_receipt(store: &Store) -> Result<Option<PushReceipt>, StoreError> {
    last_loaded_before(store, NaiveDate::MAX).await
}

/// The name of a loader file uploaded at `now` (the library's local time): its time, and
/// later than the newest day's file, so Alma's loader (which takes only files stamped later
/// than its last run) never sees a new file under an older stamp. Rounded up to the whole
/// second (Push waits for it before the upload): a loader run earlier in the same second is
/// still before the stamp.
pub fn upload_name(now: NaiveDateTime, newest: Option<&PushReceipt>) -> String {
    let now = whole_second_from(now);
    let after_newest = newest
        .and_then(|r| stamp_of_file(&r.file_name))
        .map(|stamp| stamp + Duration::seconds(1));
    let at = after_newest.map_or(now, |t| t.max(now));
    format!("{}.txt", file_stamp(at))
}

/// `t` if it is a whole second, else the next whole second.
pub fn whole_second_from(t: NaiveDateTime) -> NaiveDateTime {
    let whole = t.trunc_subsecs(0);
    if whole < t {
        whole + Duration::seconds(1)
    } else {
        whole
    }
}

/// `alma/YYYY/MM/DD/pushing.json`: what a push chose to send, written before the upload,
/// and the name it goes under, added once the bytes are up under the temporary name (so
/// the name is the time the file is whole on the server, not when its upload began). A
/// retry of the same execution sends the same bytes, and once named under the same name,
/// so a receipt that could not be written never makes a second file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushIntent {
    /// The hidden name on Alma's server the bytes are written under before the rename.
    /// Absent in an intent written before names were chosen after the upload: then the
    /// temporary name of `file_name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub temp_name: String,
    /// The name on Alma's server; `None` until the bytes are up under `temp_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The bytes to send, in S3.
    pub loader_key: String,
    /// The transform's file they came from.
    pub transform_key: String,
    pub sha256: String,
    /// DELETE rows the fresh guard dropped from the transform's file.
    #[serde(default)]
    pub deletes_dropped: u64,
    /// When the bytes differ from the transform's file (DELETE rows dropped, ROLLOVER rows
    /// added): the SHA-256 of the transform's file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    /// The approved rollovers: how many the bytes send, and those checked and not sent.
    #[serde(default, skip_serializing_if = "PushedRollovers::is_empty")]
    pub rollovers: PushedRollovers,
    /// The execution whose attempts reuse it (a retried Push).
    pub execution_arn: String,
    pub chosen_at: DateTime<Utc>,
}

impl PushIntent {
    /// Where the bytes go before the rename.
    pub fn temporary_name(&self) -> String {
        match (&self.file_name, self.temp_name.is_empty()) {
            (Some(name), true) => crate::sftp::temporary_name(name),
            _ => self.temp_name.clone(),
        }
    }
}

/// The intent `execution_arn` recorded for `run_date`, if it recorded one.
pub async fn intent_of(
    store: &Store,
    run_date: NaiveDate,
    execution_arn: &str,
) -> Result<Option<PushIntent>, StoreError> {
    match store
        .get_json::<PushIntent>(&DayKeys::new(run_date).push_intent())
        .await
    {
        Ok(intent) if intent.execution_arn == execution_arn => Ok(Some(intent)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `alma/2026/11/28/pushed.json` → 2026-11-28.
fn receipt_date(key: &str) -> Option<NaiveDate> {
    let day = key.strip_prefix("alma/")?.strip_suffix("/pushed.json")?;
    NaiveDate::parse_from_str(day, "%Y/%m/%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_keys_name_their_day() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(receipt_date(&DayKeys::new(date).push_receipt()), Some(date));
        assert_eq!(receipt_date("alma/2026/11/28/20261128092514.txt"), None);
        assert_eq!(receipt_date(&DayKeys::dry_run(date).push_receipt()), None);
    }

    #[test]
    fn a_file_is_named_for_its_upload_and_after_the_newest_days_file() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let newest = |file_name: &str| PushReceipt {
            run_date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
            file_name: file_name.into(),
            loader_key: String::new(),
            transform_key: None,
            sha256: String::new(),
            bytes: 0,
            pushed_at: DateTime::UNIX_EPOCH,
            execution_arn: String::new(),
            execution_name: String::new(),
            source_sha256: None,
            forced: false,
        };
        let now = at("2026-11-28 14:00:05");
        assert_eq!(upload_name(now, None), "20261128140005.txt");
        let earlier = newest("20261128092514.txt");
        assert_eq!(upload_name(now, Some(&earlier)), "20261128140005.txt");
        let same_second = newest("20261128140005.txt");
        assert_eq!(upload_name(now, Some(&same_second)), "20261128140006.txt");
        let skewed = newest("20261128150000.txt");
        assert_eq!(upload_name(now, Some(&skewed)), "20261128150001.txt");
        assert_eq!(
            upload_name(now, Some(&newest("odd.txt"))),
            "20261128140005.txt"
        );
    }

    #[test]
    fn the_digest_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
