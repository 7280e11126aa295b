//! A late export: the scheduled run looks for the day's CEM export every
//! `EXPORT_POLL_SECONDS` until `EXPORT_WAIT_MINUTES` after the execution started (the
//! schedule's `ScheduleTime`), and only then fails `SourceFileMissing`. A run started by
//! hand does not wait unless its input asks (`"wait_for_export": true`): a person rerunning
//! a day knows whether the file is there.
//!
//! Plain functions over times, so Plan (which sets the deadline), Pull (which decides to
//! look again) and Slack (which says until when) agree.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// When a run that waits gives up on the export: `wait` after its start. `None` when it
/// does not wait (`wait` is zero).
pub fn deadline(started_at: DateTime<Utc>, wait: Duration) -> Option<DateTime<Utc>> {
    if wait.is_zero() {
        return None;
    }
    let wait = chrono::Duration::from_std(wait).ok()?;
    started_at.checked_add_signed(wait)
}

/// Whether a look that found no export should be followed by another: only before the
/// deadline. Without one (a run that does not wait) never.
pub fn look_again(now: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> bool {
    deadline.is_some_and(|d| now < d)
}

/// What one look for the export found (`$.export_look`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportLook {
    /// An export for the run date is on the CEM server.
    pub there: bool,
    /// Not there, and the deadline is still ahead: wait and look again. When neither, the
    /// state machine goes on to Pull, which takes the export or fails `SourceFileMissing`.
    pub look_again: bool,
    pub looked_at: DateTime<Utc>,
}

/// `14:05 MST`, or `2026-11-29 00:30 MST` when the deadline falls on another day than
/// `since` in the library's time zone.
pub fn local_time(at: DateTime<Utc>, since: DateTime<Utc>, tz: Tz) -> String {
    let local = at.with_timezone(&tz);
    if local.date_naive() == since.with_timezone(&tz).date_naive() {
        local.format("%H:%M %Z").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M %Z").to_string()
    }
}

/// `5 minutes`, `1 minute`, `90 seconds`: the interval as Slack says it.
pub fn interval_text(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if seconds > 0 && seconds.is_multiple_of(60) {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

/// The one line Slack gets when the export is not there at the first look.
pub fn waiting_line(
    run_date: chrono::NaiveDate,
    started_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    poll_seconds: u64,
    tz: Tz,
) -> String {
    format!(
        "The CEM export for {run_date} is not there yet; looking again every {} until {} \
         (then the day fails with SourceFileMissing).",
        interval_text(poll_seconds),
        local_time(deadline, started_at, tz)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const TWO_HOURS: Duration = Duration::from_secs(120 * 60);

    #[test]
    fn phoenix_gives_up_two_hours_after_a_nine_twenty_start_all_year() {
        let tz = chrono_tz::America::Phoenix;
        // Phoenix keeps MST (UTC-7) in summer and winter alike.
        for start in ["2026-01-15T16:20:00Z", "2026-07-15T16:20:00Z"] {
            let started = utc(start);
            let until = deadline(started, TWO_HOURS).unwrap();
            assert_eq!(until, started + chrono::Duration::hours(2));
            assert_eq!(local_time(until, started, tz), "11:20 MST");
        }
    }

    #[test]
    fn a_dst_zone_counts_elapsed_time_across_the_change_of_the_clocks() {
        let tz = chrono_tz::America::New_York;
        // 2026-03-08: at 02:00 EST the clocks jump to 03:00 EDT.
        let started = utc("2026-03-08T06:30:00Z"); // 01:30 EST
        let until = deadline(started, TWO_HOURS).unwrap();
        assert_eq!(until, utc("2026-03-08T08:30:00Z"));
        assert_eq!(local_time(until, started, tz), "04:30 EDT");
        // 2026-11-01: at 02:00 EDT the clocks go back to 01:00 EST.
        let started = utc("2026-11-01T05:30:00Z"); // 01:30 EDT
        let until = deadline(started, TWO_HOURS).unwrap();
        assert_eq!(local_time(until, started, tz), "02:30 EST");
        // An ordinary summer morning.
        let started = utc("2026-07-15T13:20:00Z"); // 09:20 EDT
        let until = deadline(started, TWO_HOURS).unwrap();
        assert_eq!(local_time(until, started, tz), "11:20 EDT");
    }

    #[test]
    fn a_deadline_past_midnight_names_its_day() {
        let tz = chrono_tz::America::Phoenix;
        let started = utc("2026-11-29T06:00:00Z"); // 23:00 MST on the 28th
        let until = deadline(started, TWO_HOURS).unwrap();
        assert_eq!(local_time(until, started, tz), "2026-11-29 01:00 MST");
    }

    #[test]
    fn it_looks_again_only_before_the_deadline_and_never_without_one() {
        let started = utc("2026-11-28T16:20:00Z");
        let until = deadline(started, TWO_HOURS);
        assert!(look_again(started, until));
        assert!(look_again(utc("2026-11-28T18:19:59Z"), until));
        assert!(!look_again(utc("2026-11-28T18:20:00Z"), until));
        assert!(!look_again(utc("2026-11-28T19:00:00Z"), until));
        assert_eq!(deadline(started, Duration::ZERO), None);
        assert!(!look_again(started, None));
    }

    #[test]
    fn the_waiting_line_says_the_day_the_interval_and_the_local_deadline() {
        let started = utc("2026-11-28T16:20:00Z");
        let until = deadline(started, TWO_HOURS).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(
            waiting_line(date, started, until, 300, chrono_tz::America::Phoenix),
            "The CEM export for 2026-11-28 is not there yet; looking again every 5 minutes \
             until 11:20 MST (then the day fails with SourceFileMissing)."
        );
        assert_eq!(interval_text(60), "1 minute");
        assert_eq!(interval_text(1), "1 second");
        assert_eq!(interval_text(90), "90 seconds");
    }
}
