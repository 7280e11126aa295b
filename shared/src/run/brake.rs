//! The safety brake: before Push, judge the day against the institution's own recent
//! loaded days. A day whose export shrank sharply, that deletes many more courses than
//! usual or rejects many rows holds until a person approves it (the hold loop of the state
//! machine, [`super::check_hold`]). A mass delete from a broken export is the worst day a
//! library can have; a large campus's ordinary day must not look like one.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::config::BrakeSettings;
use crate::run::receipt;
use crate::run::summary::{Brake, TransformCounts};
use crate::store::{DayKeys, Store, StoreError};

/// How many of the last loaded days say what is usual.
pub const HISTORY_DAYS: usize = 14;

/// A loaded day's counts, as its run summary recorded them.
pub type LoadedDay = (NaiveDate, TransformCounts);

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

/// `1162` as `1,162`: the figures people compare at a glance.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the loaded days had of one figure: least, median (the lower middle of an even
/// count, so one odd day never lifts it) and most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usual {
    pub days: usize,
    pub least: u64,
    pub median: u64,
    pub most: u64,
}

impl Usual {
    pub fn of(history: &[LoadedDay], figure: impl Fn(&TransformCounts) -> u64) -> Option<Usual> {
        let mut values: Vec<u64> = history.iter().map(|(_, c)| figure(c)).collect();
        values.sort_unstable();
        Some(Usual {
            days: values.len(),
            least: *values.first()?,
            median: values[(values.len() - 1) / 2],
            most: *values.last()?,
        })
    }

    /// "the last 14 loaded days had 40–75": a range, or one figure when all were equal.
    pub fn sentence(&self, what: &str) -> String {
        let days = match self.days {
            1 => "the last loaded day".to_string(),
            n => format!("the last {n} loaded days"),
        };
        if self.least == self.most {
            format!("{days} had {} {what}", thousands(self.least))
        } else {
            format!(
                "{days} had {}–{} {what} (median {})",
                thousands(self.least),
                thousands(self.most),
                thousands(self.median)
            )
        }
    }
}

/// The verdict for today's counts against the loaded days before it (`history`, newest
/// first, at most [`HISTORY_DAYS`]). Shares are of the whole day: deletes of the courses
/// written, rejects of the rows read. With history, DELETE rows are also judged against
/// the usual: more than `delete_multiple` times the median, and never fewer than
/// `delete_max`, trips. A first day is judged by the shares alone, never by a count.
pub fn verdict(today: &TransformCounts, history: &[LoadedDay], limits: &BrakeSettings) -> Brake {
    let mut tripped = Vec::new();
    let mut notes = Vec::new();
    match history.first() {
        Some((date, before)) => tripped.extend(rows_dropped(today, *date, before, history, limits)),
        None => notes.push(
            "no earlier loaded day: the export's rows were not compared, and the day was \
             judged by its shares alone"
                .to_string(),
        ),
    }
    tripped.extend(deletes(today, history, limits));
    if over(today.rejected, today.rows_read, limits.reject_percent) {
        tripped.push(format!(
            "{} of {} rows were rejected ({}, more than {}%){}",
            thousands(today.rejected),
            thousands(today.rows_read),
            percent(today.rejected, today.rows_read),
            limits.reject_percent,
            usual_suffix(history, |c| c.rejected, "rejected rows"),
        ));
    }
    Brake {
        tripped: !tripped.is_empty(),
        reasons: tripped.into_iter().chain(notes).collect(),
        compared_with: history.first().map(|(date, _)| *date),
        history_days: history.len(),
    }
}

/// "; the last 14 loaded days had …", or nothing before the first load.
fn usual_suffix(
    history: &[LoadedDay],
    figure: impl Fn(&TransformCounts) -> u64,
    what: &str,
) -> String {
    Usual::of(history, figure).map_or_else(String::new, |u| format!("; {}", u.sentence(what)))
}

/// The export shrank by more than `rows_drop_percent` since the last loaded day.
fn rows_dropped(
    today: &TransformCounts,
    date: NaiveDate,
    before: &TransformCounts,
    history: &[LoadedDay],
    limits: &BrakeSettings,
) -> Option<String> {
    let dropped = before.rows_read.saturating_sub(today.rows_read);
    over(dropped, before.rows_read, limits.rows_drop_percent).then(|| {
        format!(
            "the export has {} rows, {} fewer than the {} of {date}, the last day loaded \
             (down {}, more than {}%){}",
            thousands(today.rows_read),
            thousands(dropped),
            thousands(before.rows_read),
            percent(dropped, before.rows_read),
            limits.rows_drop_percent,
            // One day's range is the figure just named.
            usual_suffix(
                if history.len() > 1 { history } else { &[] },
                |c| c.rows_read,
                "rows"
            ),
        )
    })
}

/// Too many DELETE rows: more than usual (with history), or too large a share of the day.
fn deletes(
    today: &TransformCounts,
    history: &[LoadedDay],
    limits: &BrakeSettings,
) -> Option<String> {
    let deletes = today.deletes_sent;
    if let Some(usual) = Usual::of(history, |c| c.deletes_sent) {
        let by_median = usual.median.saturating_mul(limits.delete_multiple);
        let limit = by_median.max(limits.delete_max);
        if deletes > limit {
            let why = if by_median >= limits.delete_max {
                format!("{} times the median", limits.delete_multiple)
            } else {
                "BrakeDeleteMax, the least that ever holds a day".to_string()
            };
            return Some(format!(
                "{} DELETE rows would be sent; {}; a day holds above {} ({why})",
                thousands(deletes),
                usual.sentence("DELETE rows"),
                thousands(limit),
            ));
        }
    }
    over(deletes, today.rows_written, limits.delete_percent).then(|| {
        format!(
            "{} DELETE rows would be sent, {} of the {} courses written (more than {}%){}",
            thousands(deletes),
            percent(deletes, today.rows_written),
            thousands(today.rows_written),
            limits.delete_percent,
            usual_suffix(history, |c| c.deletes_sent, "DELETE rows"),
        )
    })
}

/// The counts of a run summary, as Transform wrote it.
#[derive(Debug, Deserialize)]
struct SummaryCounts {
    #[serde(default)]
    counts: TransformCounts,
}

/// The counts of up to [`HISTORY_DAYS`] days loaded before `run_date`, newest first. A
/// loaded day whose summary is gone is left out: it says nothing about what is usual.
pub async fn history(store: &Store, run_date: NaiveDate) -> Result<Vec<LoadedDay>, StoreError> {
    let mut days = Vec::new();
    for receipt in receipt::loaded_days_before(store, run_date, HISTORY_DAYS).await? {
        let key = DayKeys::new(receipt.run_date).run_summary();
        match store.get_json::<SummaryCounts>(&key).await {
            Ok(summary) => days.push((receipt.run_date, summary.counts)),
            Err(StoreError::NotFound { .. }) => tracing::warn!(
                loaded_day = %receipt.run_date,
                key = %key,
                "a loaded day has no run summary; the brake leaves it out of what is usual"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(days)
}

/// The verdict for `run_date`'s counts against the days loaded before it.
pub async fn assess(
    store: &Store,
    run_date: NaiveDate,
    today: &TransformCounts,
    limits: &BrakeSettings,
) -> Result<Brake, StoreError> {
    let history = history(store, run_date).await?;
    let brake = verdict(today, &history, limits).bounded();
    tracing::info!(
        tripped = brake.tripped,
        compared_with = ?brake.compared_with,
        history_days = brake.history_days,
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
        delete_multiple: 5,
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
        let at_limit = verdict(&counts(700, 600, 0, 0), &[(day(), before.clone())], &LIMITS);
        assert!(!at_limit.tripped, "{:?}", at_limit.reasons);
        assert_eq!(at_limit.compared_with, Some(day()));
        assert!(at_limit.reasons.is_empty());

        let past = verdict(&counts(699, 600, 0, 0), &[(day(), before.clone())], &LIMITS);
        assert!(past.tripped);
        assert_eq!(past.reasons.len(), 1);
        let reason = &past.reasons[0];
        assert!(reason.contains("699 rows"), "{reason}");
        assert!(
            reason.contains("301 fewer than the 1,000 of 2026-11-27"),
            "{reason}"
        );
        assert!(reason.contains("30.1%"), "{reason}");
    }

    #[test]
    fn more_rows_than_before_never_trip_the_rows_check() {
        let before = counts(100, 90, 0, 0);
        let brake = verdict(
            &counts(5000, 4000, 0, 0),
            &[(day(), before.clone())],
            &LIMITS,
        );
        assert!(!brake.tripped);
    }

    #[test]
    fn without_an_earlier_loaded_day_the_rows_check_is_skipped_and_said_so() {
        let brake = verdict(&counts(1, 1, 0, 0), &[], &LIMITS);
        assert!(!brake.tripped);
        assert_eq!(brake.compared_with, None);
        assert_eq!(brake.reasons.len(), 1);
        assert!(
            brake.reasons[0].contains("not compared"),
            "{:?}",
            brake.reasons
        );

        // The other checks still apply.
        let brake = verdict(&counts(1000, 1000, 51, 0), &[], &LIMITS);
        assert!(brake.tripped);
        assert!(
            brake.reasons[0].contains("51 DELETE rows"),
            "{:?}",
            brake.reasons
        );
        assert!(
            brake.reasons[1].contains("not compared"),
            "{:?}",
            brake.reasons
        );
    }

    #[test]
    fn deletes_of_exactly_five_percent_pass_and_one_more_trips() {
        assert!(!verdict(&counts(1000, 1000, 50, 0), &[], &LIMITS).tripped);
        let brake = verdict(&counts(1000, 1000, 51, 0), &[], &LIMITS);
        assert!(brake.tripped);
        let reason = &brake.reasons[0];
        assert!(
            reason.contains("5.1% of the 1,000 courses written"),
            "{reason}"
        );
        assert!(reason.contains("more than 5%"), "{reason}");
    }

    /// Fourteen loaded days of 20,000 courses with 40 to 75 DELETE rows each.
    fn usual_days() -> Vec<LoadedDay> {
        (0..14)
            .map(|i| {
                let date = day() - chrono::Days::new(i);
                (date, counts(20_000, 20_000, 40 + (i * 35) / 13, 0))
            })
            .collect()
    }

    #[test]
    fn a_first_day_is_judged_by_its_shares_alone_never_by_a_count() {
        // 1,162 DELETE rows of 34,409 courses: 3.4%, under 5%.
        let brake = verdict(&counts(60_000, 34_409, 1162, 0), &[], &LIMITS);
        assert!(!brake.tripped, "{:?}", brake.reasons);
        assert_eq!(brake.history_days, 0);
        assert!(brake.reasons[0].contains("judged by its shares alone"));
    }

    #[test]
    fn ten_times_the_usual_deletes_trip_and_the_reason_names_the_usual_range() {
        let history = usual_days();
        let usual = Usual::of(&history, |c| c.deletes_sent).unwrap();
        assert_eq!((usual.least, usual.median, usual.most), (40, 56, 75));

        // 5 × 56 = 280, under the floor of 500: 500 pass, 501 trip (2.5% of the day).
        assert!(!verdict(&counts(20_000, 20_000, 500, 0), &history, &LIMITS).tripped);
        let ten_times = verdict(&counts(20_000, 20_000, 550, 0), &history, &LIMITS);
        assert!(ten_times.tripped);
        assert_eq!(ten_times.history_days, 14);
        assert_eq!(
            ten_times.reasons[0],
            "550 DELETE rows would be sent; the last 14 loaded days had 40–75 DELETE rows \
             (median 56); a day holds above 500 (BrakeDeleteMax, the least that ever holds a day)"
        );
    }

    #[test]
    fn above_the_floor_the_limit_is_the_multiple_of_the_median() {
        let history: Vec<LoadedDay> = (0..3)
            .map(|i| {
                (
                    day() - chrono::Days::new(i),
                    counts(90_000, 90_000, 200 + i, 0),
                )
            })
            .collect();
        // Median 201: a day holds above 1,005.
        assert!(!verdict(&counts(90_000, 90_000, 1005, 0), &history, &LIMITS).tripped);
        let brake = verdict(&counts(90_000, 90_000, 1162, 0), &history, &LIMITS);
        assert!(brake.tripped);
        assert!(
            brake.reasons[0].starts_with(
                "1,162 DELETE rows would be sent; the last 3 loaded days had 200–202 DELETE rows \
                 (median 201); a day holds above 1,005 (5 times the median)"
            ),
            "{:?}",
            brake.reasons
        );
    }

    #[test]
    fn with_history_a_large_share_still_trips_and_says_what_is_usual() {
        let history = vec![(day(), counts(1000, 1000, 2, 0))];
        let brake = verdict(&counts(1000, 1000, 60, 0), &history, &LIMITS);
        assert!(brake.tripped);
        assert_eq!(
            brake.reasons[0],
            "60 DELETE rows would be sent, 6.0% of the 1,000 courses written (more than 5%); \
             the last loaded day had 2 DELETE rows"
        );
    }

    #[test]
    fn figures_read_with_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1162), "1,162");
        assert_eq!(thousands(34_409), "34,409");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn deletes_on_a_day_that_writes_nothing_else_trip() {
        let brake = verdict(&counts(10, 3, 3, 0), &[], &LIMITS);
        assert!(brake.tripped, "every course written is a delete");
        assert!(!verdict(&counts(0, 0, 0, 0), &[], &LIMITS).tripped);
    }

    #[test]
    fn rejects_of_exactly_two_percent_pass_and_one_more_trips() {
        assert!(!verdict(&counts(1000, 900, 0, 20), &[], &LIMITS).tripped);
        let brake = verdict(&counts(1000, 900, 0, 21), &[], &LIMITS);
        assert!(brake.tripped);
        assert!(
            brake.reasons[0].contains("21 of 1,000 rows were rejected (2.1%, more than 2%)"),
            "{:?}",
            brake.reasons
        );
    }

    #[test]
    fn every_check_that_trips_is_named_and_a_summary_without_a_verdict_reads() {
        let before = counts(10_000, 9000, 0, 0);
        let brake = verdict(
            &counts(100, 80, 60, 10),
            &[(day(), before.clone())],
            &LIMITS,
        );
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
            history_days: 0,
        }
        .bounded();
        assert_eq!(brake.reasons.len(), crate::run::summary::MAX_REASONS);
        assert!(brake
            .reasons
            .iter()
            .all(|r| r.len() <= crate::run::limits::LINE_BYTES));
    }
}
