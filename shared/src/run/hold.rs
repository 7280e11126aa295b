//! A day the safety brake held: where the hold stands (`$.hold` in the execution's state)
//! and a person's decision on it (`reports/YYYY/MM/DD/decision.json`, written by
//! `leganto approve` / `leganto reject` and read by the held execution's check-hold step);
//! and what the brake did to the day, as Slack and the e-mail tell it ([`BrakeNote`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::run::summary::Brake;
use crate::store::{DayKeys, Store, StoreError};

/// What a person decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

/// `reports/YYYY/MM/DD/decision.json`, as `leganto approve` / `leganto reject` write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldDecision {
    pub decision: Verdict,
    /// Who decided: their AWS identity, else their login name.
    pub by: String,
    #[serde(default)]
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The held loader file the decision is about.
    pub loader_file: String,
}

/// The day's decision, if someone made one.
pub async fn read_decision(
    store: &Store,
    run_date: NaiveDate,
) -> Result<Option<HoldDecision>, StoreError> {
    match store
        .get_json(&DayKeys::new(run_date).hold_decision())
        .await
    {
        Ok(decision) => Ok(Some(decision)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where the hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Nobody has decided yet: wait and look again.
    Pending,
    /// A person approved the held file: push it.
    Approved,
}

/// `$.hold` in the execution's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldOutput {
    pub decision: HoldStatus,
    /// The first look, from which the hold limit counts.
    pub held_since: DateTime<Utc>,
    /// Looks so far; 1 on the first, when people are told.
    pub checks: u64,
    /// Who approved, once someone has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// What the safety brake did to the day: worked out once, told by Slack and the e-mail in
/// their own words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "brake", rename_all = "snake_case")]
pub enum BrakeNote {
    /// The brake did not trip.
    #[default]
    NotTripped,
    /// A dry run whose day the brake would have held.
    WouldHold { why: String },
    /// Held, then approved by a person.
    Approved { why: String, by: String },
    /// Tripped, and nobody approved (yet).
    Tripped { why: String },
}

impl BrakeNote {
    pub fn is_not_tripped(&self) -> bool {
        *self == BrakeNote::NotTripped
    }

    pub fn of(brake: &Brake, hold: Option<&HoldOutput>, dry_run: bool) -> BrakeNote {
        if !brake.tripped {
            return BrakeNote::NotTripped;
        }
        let why = brake.reasons.join("; ");
        let approved_by = hold
            .filter(|h| h.decision == HoldStatus::Approved)
            .map(|h| h.by.clone().unwrap_or_else(|| "someone".into()));
        match approved_by {
            _ if dry_run => BrakeNote::WouldHold { why },
            Some(by) => BrakeNote::Approved { why, by },
            None => BrakeNote::Tripped { why },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brake(tripped: bool) -> Brake {
        Brake {
            tripped,
            reasons: vec!["60 DELETE rows".into(), "rows down 40%".into()],
            compared_with: None,
            history_days: 0,
        }
    }

    fn approved(by: Option<&str>) -> HoldOutput {
        HoldOutput {
            decision: HoldStatus::Approved,
            held_since: "2026-11-28T16:00:00Z".parse().unwrap(),
            checks: 4,
            by: by.map(str::to_string),
        }
    }

    #[test]
    fn the_note_says_whether_the_brake_held_the_day_and_who_let_it_go() {
        let why = "60 DELETE rows; rows down 40%".to_string();
        assert_eq!(
            BrakeNote::of(&brake(false), None, false),
            BrakeNote::NotTripped
        );
        assert_eq!(
            BrakeNote::of(&brake(true), None, false),
            BrakeNote::Tripped { why: why.clone() }
        );
        assert_eq!(
            BrakeNote::of(
                &brake(true),
                Some(&approved(Some("pat@example.edu"))),
                false
            ),
            BrakeNote::Approved {
                why: why.clone(),
                by: "pat@example.edu".into()
            }
        );
        assert_eq!(
            BrakeNote::of(&brake(true), Some(&approved(None)), false),
            BrakeNote::Approved {
                why: why.clone(),
                by: "someone".into()
            }
        );
        assert_eq!(
            BrakeNote::of(&brake(true), None, true),
            BrakeNote::WouldHold { why }
        );
    }
}
