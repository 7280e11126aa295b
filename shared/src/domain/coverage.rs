//! Term coverage (course-loading.md §9): the export's contents are set by a query someone
//! must change each term; when that is forgotten, next term's courses never load and nobody
//! notices until classes start. The transform notes the (term, year) of every row it reads
//! ([`TermsSeen`]); [`coverage_warnings`] says which expected terms, starting soon, the day
//! lacks. A warning, never a reason to stop.

use chrono::NaiveDate;
use rustc_hash::FxHashSet;
use serde::Serialize;

/// How many days after a term has started its absence is still worth saying.
pub const STARTED_DAYS_AGO: i64 = 14;

/// A term the export must hold (`[[export.expect]]`): values of the term and year columns,
/// and the term's first day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedTerm {
    pub term: String,
    pub year: String,
    pub starts: NaiveDate,
}

/// One (term, year) pair of the export.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TermYear {
    pub term: String,
    pub year: String,
}

/// The (term, year) values of the rows read, each once. Noting a row costs a comparison
/// with the row before in the common case (rows of one term together), a hash otherwise.
#[derive(Debug, Clone, Default)]
pub struct TermsSeen {
    /// `term` + [`SEP`] + `year`, for each pair seen.
    keys: FxHashSet<Box<str>>,
    last: String,
    scratch: String,
}

impl PartialEq for TermsSeen {
    fn eq(&self, other: &TermsSeen) -> bool {
        self.keys == other.keys
    }
}

impl Eq for TermsSeen {}

/// As the list of pairs: the run summary says which terms the day's export held.
impl Serialize for TermsSeen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.pairs().serialize(serializer)
    }
}

/// Between term and year in a key: a control character, which a row that is read never holds.
const SEP: char = '\u{1f}';

impl TermsSeen {
    /// Notes a row's term and year (trimmed, as the reader gives them); an empty term is no
    /// term.
    #[inline]
    pub fn note(&mut self, term: &str, year: &str) {
        if term.is_empty() {
            return;
        }
        let s = &mut self.scratch;
        s.clear();
        s.push_str(term);
        s.push(SEP);
        s.push_str(year);
        if *s == self.last {
            return;
        }
        if !self.keys.contains(s.as_str()) {
            self.keys.insert(s.as_str().into());
        }
        std::mem::swap(&mut self.last, &mut self.scratch);
    }

    /// Whether a row of `term` and `year` was read.
    pub fn contains(&self, term: &str, year: &str) -> bool {
        self.keys.contains(format!("{term}{SEP}{year}").as_str())
    }

    /// Every pair seen, in order.
    pub fn pairs(&self) -> Vec<TermYear> {
        let mut pairs: Vec<TermYear> = self
            .keys
            .iter()
            .filter_map(|k| k.split_once(SEP))
            .map(|(term, year)| TermYear {
                term: term.to_owned(),
                year: year.to_owned(),
            })
            .collect();
        pairs.sort();
        pairs
    }
}

/// An expected term the day's export holds no row of, starting soon or lately started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermMissing {
    pub term: String,
    pub year: String,
    pub starts: NaiveDate,
    /// Days from the run date to the term's first day; negative once it has started.
    pub days_until: i64,
}

/// "the export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)".
/// When is said as "in N days" (one: "in 1 day"), "today" on the first day, and after it
/// "started N days ago" ("started 1 day ago"): the sentence keeps its "which starts" and
/// the date, the parenthesis says where the run date is.
impl std::fmt::Display for TermMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: i64| if n == 1 { "" } else { "s" };
        let when = match self.days_until {
            0 => "today".to_owned(),
            n if n > 0 => format!("in {n} day{}", plural(n)),
            n => format!("started {} day{} ago", -n, plural(-n)),
        };
        write!(
            f,
            "the export holds no course of term {} {}, which starts {} ({when})",
            self.term, self.year, self.starts
        )
    }
}

/// The expected terms the export lacks whose first day is at most `warning_days` after
/// `run_date`, or at most [`STARTED_DAYS_AGO`] days before it (both ends included), in the
/// order they are expected.
pub fn coverage_warnings(
    expect: &[ExpectedTerm],
    warning_days: u32,
    run_date: NaiveDate,
    seen: &TermsSeen,
) -> Vec<TermMissing> {
    expect
        .iter()
        .filter_map(|e| {
            let days_until = (e.starts - run_date).num_days();
            let near = (-STARTED_DAYS_AGO..=i64::from(warning_days)).contains(&days_until);
            (near && !seen.contains(&e.term, &e.year)).then(|| TermMissing {
                term: e.term.clone(),
                year: e.year.clone(),
                starts: e.starts,
                days_until,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn spring_2027() -> Vec<ExpectedTerm> {
        vec![ExpectedTerm {
            term: "1".into(),
            year: "2027".into(),
            starts: day("2027-01-12"),
        }]
    }

    fn missing_on(run_date: &str, seen: &TermsSeen) -> Vec<String> {
        coverage_warnings(&spring_2027(), 45, day(run_date), seen)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_missing_term_starting_within_the_window_is_said_in_the_spec_s_words() {
        assert_eq!(
            missing_on("2026-12-06", &TermsSeen::default()),
            ["the export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)"]
        );
    }

    #[test]
    fn the_window_is_45_days_ahead_and_14_days_after_the_start_both_included() {
        let none = TermsSeen::default();
        let when = |run_date: &str| {
            coverage_warnings(&spring_2027(), 45, day(run_date), &none)
                .first()
                .map(|m| m.to_string())
        };
        assert_eq!(when("2026-11-27"), None, "46 days ahead");
        assert!(when("2026-11-28").unwrap().ends_with("(in 45 days)"));
        assert!(when("2027-01-11").unwrap().ends_with("(in 1 day)"));
        assert!(when("2027-01-12").unwrap().ends_with("(today)"));
        assert!(when("2027-01-13").unwrap().ends_with("(started 1 day ago)"));
        assert!(when("2027-01-26")
            .unwrap()
            .ends_with("(started 14 days ago)"));
        assert_eq!(when("2027-01-27"), None, "15 days after the start");
    }

    #[test]
    fn the_window_ahead_is_the_setting() {
        let none = TermsSeen::default();
        let ahead = |days| coverage_warnings(&spring_2027(), days, day("2026-11-28"), &none).len();
        assert_eq!((ahead(44), ahead(45), ahead(0)), (0, 1, 0));
    }

    #[test]
    fn a_row_of_the_term_and_year_is_enough_and_another_year_is_not() {
        let mut seen = TermsSeen::default();
        seen.note("1", "2026");
        seen.note("7", "2027");
        seen.note("", "2027");
        assert_eq!(missing_on("2026-12-06", &seen).len(), 1);
        seen.note("1", "2027");
        seen.note("1", "2027");
        assert_eq!(missing_on("2026-12-06", &seen), Vec::<String>::new());
        assert_eq!(
            seen.pairs(),
            [("1", "2026"), ("1", "2027"), ("7", "2027")].map(|(term, year)| TermYear {
                term: term.into(),
                year: year.into()
            })
        );
    }
}
