//! The safety brake: before Push, compare the day with the last day that was loaded. A
//! day whose export shrank sharply, that deletes many courses or rejects many rows holds
//! until a person approves it (the hold loop of the state machine, [`super::check_hold`]).
//! A mass delete from a broken export is the worst day a library can have.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::config::BrakeSettings;
use crate::run::receipt;
use crate::run::summary::{Brake, TransformCounts};
use crate::store::{DayKeys, Store, StoreError};

/// `part` over `whole` as a percent with one decimal, for people.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "all".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// `part` is more than `limit` percent of `whole` (exact, in whole numbers).
fn over(part: u64, whole: u64, limit: u32) -> bool {
    u128::from(part) * 100 > u128::from(whole) * u128::from(limit)
}

/// The verdict for today's counts against the last loaded day's (`earlier`). Shares are of
/// the whole day: deletes of the courses written, rejects of the rows read.
pub fn verdict(
    today: &TransformCounts,
    earlier: Option<(NaiveDate, &TransformCounts)>,
    limits: &BrakeSettings,
) -> Brake {
    let mut tripped = Vec::new();
    let mut notes = Vec::new();
    match earlier {
        Some((date, before)) => {
            let dropped = before.rows_read.saturating_sub(today.rows_read);
            if over(dropped, before.rows_read, limits.rows_drop_percent) {
                tripped.push(format!(
                    "the export has {} rows, {} fewer than the {} of {date}, the last day \
                     loaded (down {}, more than {}%)",
                    today.rows_read,
                    dropped,
                    before.rows_read,
                    percent(dropped, before.rows_read),
                    limits.rows_drop_percent
                ));
            }
        }
        None => notes.push(
            "no earlier loaded day to compare the export's rows with; that check was skipped"
                .to_string(),
        ),
    }
    let deletes = today.deletes_sent;
    if deletes > limits.delete_max {
        tripped.push(format!(
            "{deletes} DELETE rows would be sent, more than the limit of {}",
            limits.delete_max
        ));
    } else if over(deletes, today.rows_written, limits.delete_percent) {
        tripped.push(format!(
            "{deletes} DELETE rows would be sent, {} of the {} courses written (more than {}%)",
            percent(deletes, today.rows_written),
            today.rows_written,
            limits.delete_percent
        ));
    }
    if over(today.rejected, today.rows_read, limits.reject_percent) {
        tripped.push(format!(
            "{} of {} rows were rejected ({}, more than {}%)",
            today.rejected,
            today.rows_read,
            percent(today.rejected, today.rows_read),
            limits.reject_percent
        ));
    }
    Brake {
        tripped: !tripped.is_empty(),
        reasons: tripped.into_iter().chain(notes).collect(),
        compared_with: earlier.map(|(date, _)| date),
    }
}

/// The counts of a run summary, as Transform wrote it.
#[derive(Debug, Deserialize)]
struct SummaryCounts {
    #[serde(default)]
    counts: TransformCounts,
}

/// The verdict for `run_date`'s counts against the last day loaded before it (its push
/// receipt, then its run summary). A loaded day whose summary is gone is skipped the same
/// way as no earlier day: the other checks still apply.
pub async fn assess(
    store: &Store,
    run_date: NaiveDate,
    today: &TransformCounts,
    limits: &BrakeSettings,
) -> Result<Brake, StoreError> {
    let earlier = match receipt::last_loaded_before(store, run_date).await? {
        None => None,
        Some(receipt) => {
            let key = DayKeys::new(receipt.run_date).run_summary();
            match store.get_json::<SummaryCounts>(&key).await {
                Ok(summary) => Some((receipt.run_date, summary.counts)),
                Err(StoreError::NotFound { .. }) => {
                    tracing::warn!(
                        compared_with = %receipt.run_date,
                        key = %key,
                        "the last loaded day has no run summary; its rows are not compared"
                    );
                    None
                }
                Err(e) => return Err(e),
            }
        }
    };
    let brake = verdict(today, earlier.as_ref().map(|(d, c)| (*d, c)), limits).bounded();
    tracing::info!(
        tripped = brake.tripped,
        compared_with = ?brake.compared_with,
        reasons = brake.reasons.len(),
        "safety brake checked"
    );
    Ok(brake)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BrakeSettings = BrakeSettings {
        rows_drop_percent: 30,
        delete_percent: 5,
        delete_max: 500,
        reject_percent: 2,
    };

    fn counts(
        rows_read: u64,
        rows_written: u64,
        deletes_sent: u64,
        rejected: u64,
    ) -> TransformCounts {
        TransformCounts {
            rows_read,
            rows_written,
            deletes_sent,
            rejected,
            ..TransformCounts::default()
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    #[test]
    fn rows_down_exactly_thirty_percent_pass_and_one_more_trips() {
        let before = counts(1000, 900, 0, 0);
        let at_limit = verdict(&counts(700, 600, 0, 0), Some((day(), &before)), &LIMITS);
        assert!(!at_limit.tripped, "{:?}", at_limit.reasons);
        assert_eq!(at_limit.compared_with, Some(day()));
        assert!(at_limit.reasons.is_empty());

        let past = verdict(&counts(699, 600, 0, 0), Some((day(), &before)), &LIMITS);
        assert!(past.tripped);
        assert_eq!(past.reasons.len(), 1);
        let reason = &past.reasons[0];
        assert!(reason.contains("699 rows"), "{reason}");
        assert!(
            reason.contains("301 fewer than the 1000 of 2026-11-27"),
            "{reason}"
        );
        assert!(reason.contains("30.1%"), "{reason}");
    }

    #[test]
    fn more_rows_than_before_never_trip_the_rows_check() {
        let before = counts(100, 90, 0, 0);
        let brake = verdict(&counts(5000, 4000, 0, 0), Some((day(), &before)), &LIMITS);
        assert!(!brake.tripped);
    }

    #[test]
    fn without_an_earlier_loaded_day_the_rows_check_is_skipped_and_said_so() {
        let brake = verdict(&counts(1, 1, 0, 0), None, &LIMITS);
        assert!(!brake.tripped);
        assert_eq!(brake.compared_with, None);
        assert_eq!(brake.reasons.len(), 1);
        assert!(brake.reasons[0].contains("skipped"), "{:?}", brake.reasons);

        // The other checks still apply.
        let brake = verdict(&counts(1000, 1000, 51, 0), None, &LIMITS);
        assert!(brake.tripped);
        assert!(
            brake.reasons[0].contains("51 DELETE rows"),
            "{:?}",
            brake.reasons
        );
        assert!(brake.reasons[1].contains("skipped"), "{:?}", brake.reasons);
    }

    #[test]
    fn deletes_of_exactly_five_percent_pass_and_one_more_trips() {
        assert!(!verdict(&counts(1000, 1000, 50, 0), None, &LIMITS).tripped);
        let brake = verdict(&counts(1000, 1000, 51, 0), None, &LIMITS);
        assert!(brake.tripped);
        let reason = &brake.reasons[0];
        assert!(
            reason.contains("5.1% of the 1000 courses written"),
            "{reason}"
        );
        assert!(reason.contains("more than 5%"), "{reason}");
    }

    #[test]
    fn five_hundred_deletes_pass_on_a_large_day_and_five_hundred_and_one_trip() {
        assert!(!verdict(&counts(20_000, 20_000, 500, 0), None, &LIMITS).tripped);
        let brake = verdict(&counts(20_000, 20_000, 501, 0), None, &LIMITS);
        assert!(brake.tripped);
        assert!(
            brake.reasons[0].contains("501 DELETE rows would be sent, more than the limit of 500"),
            "{:?}",
            brake.reasons
        );
    }

    #[test]
    fn deletes_on_a_day_that_writes_nothing_else_trip() {
        let brake = verdict(&counts(10, 3, 3, 0), None, &LIMITS);
        assert!(brake.tripped, "every course written is a delete");
        assert!(!verdict(&counts(0, 0, 0, 0), None, &LIMITS).tripped);
    }

    #[test]
    fn rejects_of_exactly_two_percent_pass_and_one_more_trips() {
        assert!(!verdict(&counts(1000, 900, 0, 20), None, &LIMITS).tripped);
        let brake = verdict(&counts(1000, 900, 0, 21), None, &LIMITS);
        assert!(brake.tripped);
        assert!(
            brake.reasons[0].contains("21 of 1000 rows were rejected (2.1%, more than 2%)"),
            "{:?}",
            brake.reasons
        );
    }

    #[test]
    fn every_check_that_trips_is_named_and_a_summary_without_a_verdict_reads() {
        let before = counts(10_000, 9000, 0, 0);
        let brake = verdict(&counts(100, 80, 60, 10), Some((day(), &before)), &LIMITS);
        assert!(brake.tripped);
        assert_eq!(brake.reasons.len(), 3, "{:?}", brake.reasons);

        let old: Brake = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(old, Brake::default());
        assert!(!old.tripped);
    }

    #[test]
    fn the_verdict_is_bounded_for_the_state() {
        let brake = Brake {
            tripped: true,
            reasons: vec!["x".repeat(100_000); 50],
            compared_with: None,
        }
        .bounded();
        assert_eq!(brake.reasons.len(), crate::run::summary::MAX_REASONS);
        assert!(brake
            .reasons
            .iter()
            .all(|r| r.len() <= crate::run::limits::LINE_BYTES));
    }
}
