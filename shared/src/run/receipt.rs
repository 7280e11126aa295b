//! The push receipt, `alma/YYYY/MM/DD/pushed.json`: which one file was loaded for a run
//! date, written by Push with a conditional write so a day is loaded exactly once. Plan
//! recalls a push only from it, and the safety brake compares a day with the last day
//! that has one.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{DayKeys, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReceipt {
    pub run_date: NaiveDate,
    /// The loader file's name on Alma's server.
    pub file_name: String,
    /// Where the pushed bytes are kept: `alma/YYYY/MM/DD/<name>.txt`.
    pub loader_key: String,
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
    let mut days: Vec<NaiveDate> = store
        .list("alma/")
        .await?
        .into_iter()
        .filter_map(|o| receipt_date(&o.key))
        .filter(|d| *d < run_date)
        .collect();
    days.sort_unstable();
    for day in days.into_iter().rev() {
        if let Some(receipt) = read_receipt(store, day).await? {
            return Ok(Some(receipt));
        }
    }
    Ok(None)
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
    fn the_digest_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
