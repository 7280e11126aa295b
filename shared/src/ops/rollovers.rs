//! `leganto rollovers approve|revoke|list`: a person's review of a day's rollover report
//! (course-loading.md §10). Approvals go into the ledger ([`crate::run::rollovers`]) by
//! conditional writes, so two people approving at once never overwrite each other, and a
//! rollover already sent can never be approved again.

use chrono::{DateTime, NaiveDate, Utc};

use super::OpsError;
use crate::run::rollovers::{Record, Rollover, Stage, LEDGER_PREFIX};
use crate::store::{DayKeys, Store, StoreError};

/// Which rows of the report a person approves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// Course code and section of each target course.
    Courses(Vec<(String, String)>),
}

/// What became of one selected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    Approved(Rollover),
    /// Approved earlier; nothing written.
    AlreadyApproved(Rollover),
    /// The ledger holds it as sent, confirmed or closed: it is never sent again.
    Refused(Rollover, Stage),
}

/// A row of a rollover report: the rollover it asks for and the row itself (CRLF removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposed {
    pub rollover: Rollover,
    pub row: String,
}

/// The rollovers of `run_date`'s newest rollover report, in its order.
pub async fn report_rollovers(
    store: &Store,
    run_date: NaiveDate,
) -> Result<Vec<Proposed>, OpsError> {
    let day = DayKeys::new(run_date);
    let Some(key) = store.latest(&day.rollover_prefix()).await? else {
        return Err(OpsError::RolloverRefused(format!(
            "{run_date} has no rollover report in the bucket (it is made after Alma loads the \
             day); see `leganto status --run-date {run_date}`"
        )));
    };
    let bytes = store.get(&key).await?;
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| {
            Rollover::of_row(line).map(|rollover| Proposed {
                rollover,
                row: line.trim_end_matches('\r').to_string(),
            })
        })
        .collect())
}

/// The rows of the report `selection` names; a named course the report lacks is refused,
/// naming it, before anything is written.
fn selected(
    report: Vec<Proposed>,
    selection: &Selection,
    run_date: NaiveDate,
) -> Result<Vec<Proposed>, OpsError> {
    let Selection::Courses(courses) = selection else {
        return Ok(report);
    };
    let missing: Vec<String> = courses
        .iter()
        .filter(|(code, section)| !report.iter().any(|p| p.rollover.targets(code, section)))
        .map(|(code, section)| format!("{code} section {section}"))
        .collect();
    if !missing.is_empty() {
        return Err(OpsError::RolloverRefused(format!(
            "the rollover report of {run_date} has no row for {}; `leganto rollovers list \
             --run-date {run_date}` shows its rows",
            missing.join(", ")
        )));
    }
    Ok(report
        .into_iter()
        .filter(|p| courses.iter().any(|(c, s)| p.rollover.targets(c, s)))
        .collect())
}

/// Approves the selected rows of `run_date`'s report, each by its own conditional write.
pub async fn approve(
    store: &Store,
    run_date: NaiveDate,
    selection: &Selection,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Approval>, OpsError> {
    let rows = selected(
        report_rollovers(store, run_date).await?,
        selection,
        run_date,
    )?;
    let mut outcomes = Vec::with_capacity(rows.len());
    for proposed in rows {
        outcomes.push(approve_one(store, proposed, run_date, by, now).await?);
    }
    Ok(outcomes)
}

async fn approve_one(
    store: &Store,
    proposed: Proposed,
    run_date: NaiveDate,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Approval, OpsError> {
    let Proposed { rollover, row } = proposed;
    let key = rollover.ledger_key();
    let earlier = store.get_json_versioned::<Record>(&key).await?;
    let stage = earlier.as_ref().map(|(r, _)| r.stage);
    if stage.is_some_and(Stage::is_open) {
        return Ok(Approval::AlreadyApproved(rollover));
    }
    if !Stage::may_approve(stage) {
        return Ok(Approval::Refused(rollover, stage.unwrap_or(Stage::Sent)));
    }
    let etag = earlier.as_ref().map(|(_, etag)| etag.clone());
    let earlier = earlier.map(|(r, _)| r);
    let record = Record::approved(rollover.clone(), Some(row), earlier, run_date, by, now);
    let written = store
        .put_version_if(
            &key,
            etag.as_deref(),
            json_bytes(&record)?,
            "application/json",
        )
        .await?;
    if written.is_none() {
        return Err(changed_meanwhile(&rollover));
    }
    tracing::info!(rollover = %rollover.describe(), by, "rollover approved");
    Ok(Approval::Approved(rollover))
}

/// Withdraws an approval not yet sent.
pub async fn revoke(
    store: &Store,
    code: &str,
    section: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Record, OpsError> {
    let probe = Rollover {
        code: code.into(),
        section: section.into(),
        old_code: String::new(),
        old_section: String::new(),
    };
    let key = probe.ledger_key();
    let Some((record, etag)) = store.get_json_versioned::<Record>(&key).await? else {
        return Err(OpsError::RolloverRefused(format!(
            "no rollover of {code} section {section} was approved"
        )));
    };
    if !record.stage.is_open() {
        return Err(OpsError::RolloverRefused(format!(
            "the rollover of {} is {}, not waiting to be sent; only an approval not yet sent \
             can be revoked",
            record.rollover.describe(),
            record.stage.label()
        )));
    }
    let when = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let record = record.moved(Stage::Revoked, format!("revoked by {by} at {when}"));
    if !store
        .replace_if(&key, &etag, json_bytes(&record)?, "application/json")
        .await?
    {
        return Err(changed_meanwhile(&record.rollover));
    }
    Ok(record)
}

/// One row of `leganto rollovers list`: a report row (`None`: proposed, no record) or a
/// record of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub rollover: Rollover,
    pub record: Option<Record>,
}

impl Listed {
    pub fn state(&self) -> &'static str {
        self.record.as_ref().map_or("proposed", |r| r.stage.label())
    }
}

/// The rows of `run_date`'s report with their records; without a date, every record.
pub async fn list(store: &Store, run_date: Option<NaiveDate>) -> Result<Vec<Listed>, OpsError> {
    let Some(run_date) = run_date else {
        let mut all = Vec::new();
        for object in store.list(LEDGER_PREFIX).await? {
            let record: Record = store.get_json(&object.key).await?;
            all.push(Listed {
                rollover: record.rollover.clone(),
                record: Some(record),
            });
        }
        return Ok(all);
    };
    let mut rows = Vec::new();
    for Proposed { rollover, .. } in report_rollovers(store, run_date).await? {
        let record = match store.get_json::<Record>(&rollover.ledger_key()).await {
            Ok(record) => Some(record),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        rows.push(Listed { rollover, record });
    }
    Ok(rows)
}

fn json_bytes(record: &Record) -> Result<Vec<u8>, OpsError> {
    serde_json::to_vec_pretty(record).map_err(|e| {
        OpsError::RolloverRefused(format!("the ledger record could not be written: {e}"))
    })
}

fn changed_meanwhile(rollover: &Rollover) -> OpsError {
    OpsError::RolloverRefused(format!(
        "the ledger record of {} changed while this ran (someone else decided on it, or a \
         push sent it); run the command again to see where it stands",
        rollover.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: &str, section: &str) -> Proposed {
        Proposed {
            rollover: Rollover {
                code: code.into(),
                section: section.into(),
                old_code: "OLD".into(),
                old_section: "1".into(),
            },
            row: format!("{code}\t\t{section}"),
        }
    }

    #[test]
    fn a_selection_names_what_the_report_lacks_before_anything_is_written() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let report = vec![r("A", "1"), r("B", "2")];
        let pick = Selection::Courses(vec![("B".into(), "2".into())]);
        assert_eq!(
            selected(report.clone(), &pick, day).unwrap(),
            vec![r("B", "2")]
        );
        assert_eq!(
            selected(report.clone(), &Selection::All, day)
                .unwrap()
                .len(),
            2
        );
        let wrong = Selection::Courses(vec![("B".into(), "9".into())]);
        let err = selected(report, &wrong, day).unwrap_err().to_string();
        assert!(err.contains("has no row for B section 9"), "{err}");
    }
}
