//! The execution input: what a person (or the schedule, with `{"wait_for_export": true}`)
//! asks a run to do.
//!
//! One reader for Plan, Slack and `leganto status`. An unknown key is refused by name, with
//! the keys allowed: `{"dryrun": true}` must not run a real push.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::Stage;

/// `{}` or `{"run_date", "start_at", "dry_run", "force", "full", "preflight",
/// "wait_for_export"}`; `null`
/// means not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionInput {
    /// `YYYY-MM-DD`; not given (or blank): the day the execution started, in the library's
    /// time zone.
    #[serde(default, deserialize_with = "run_date")]
    pub run_date: Option<NaiveDate>,
    /// Not given: from the pull ([`ExecutionInput::first_stage`]).
    #[serde(default, deserialize_with = "start_at")]
    pub start_at: Option<Stage>,
    #[serde(default, deserialize_with = "dry_run")]
    pub dry_run: bool,
    /// Push even though the day's receipt names another file.
    #[serde(default, deserialize_with = "force")]
    pub force: bool,
    /// Send every course, not only the changes since the baseline.
    #[serde(default, deserialize_with = "full")]
    pub full: bool,
    /// `true` runs the preflight checks instead of the day (the state machine's first Choice
    /// sends it there, so the plan only ever sees `false`).
    #[serde(default, deserialize_with = "preflight")]
    pub preflight: bool,
    /// `true` (the schedule's input): a missing export is looked for again until
    /// `EXPORT_WAIT_MINUTES` after the start (see `super::export_wait`).
    #[serde(default, deserialize_with = "wait_for_export")]
    pub wait_for_export: bool,
}

/// Why an execution input cannot be read: one sentence naming the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the execution input is not valid: {0}")]
pub struct InputError(pub String);

impl ExecutionInput {
    /// Reads the input as Step Functions hands it over (`null` when the execution had none).
    pub fn from_value(input: &Value) -> Result<ExecutionInput, InputError> {
        match input {
            Value::Null => Ok(ExecutionInput::default()),
            Value::Object(_) => ExecutionInput::deserialize(input)
                .map_err(|e| InputError(e.to_string().replace("`", "\""))),
            _ => Err(InputError("it must be a JSON object".into())),
        }
    }

    /// Whether the schedule started the run: its input (`{"wait_for_export": true}`) names
    /// no day, no stage and nothing else; a person's rerun always names the day.
    pub fn is_scheduled(&self) -> bool {
        self.wait_for_export
            && self.run_date.is_none()
            && self.start_at.is_none()
            && !self.dry_run
            && !self.force
            && !self.full
            && !self.preflight
    }

    /// The stage the run starts at: the pull unless the input says otherwise.
    pub fn first_stage(&self) -> Stage {
        self.start_at.unwrap_or_default()
    }

    /// The day the run works on: the input's `run_date`, else the day the execution started
    /// in the library's time zone.
    pub fn run_date_or_start_day(&self, started_at: DateTime<Utc>, tz: Tz) -> NaiveDate {
        self.run_date
            .unwrap_or_else(|| started_at.with_timezone(&tz).date_naive())
    }
}

/// The `run_date` a state that still holds the execution input asks for (a failure before
/// the plan: the input with `error` and `failed_state` beside it), read as the plan reads it.
pub fn requested_run_date(state: &Value) -> Option<NaiveDate> {
    run_date(state.get("run_date")?).ok().flatten()
}

fn run_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| D::Error::custom(format!("run_date {s:?} is not a date like 2026-11-28"))),
        other => Err(D::Error::custom(format!(
            "run_date must be a string like \"2026-11-28\", not {other}"
        ))),
    }
}

fn start_at<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Stage>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Stage::from_name(s.trim()).map(Some).ok_or_else(|| {
            let known: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
            D::Error::custom(format!("start_at {s:?} is not one of {}", known.join(", ")))
        }),
        other => Err(D::Error::custom(format!(
            "start_at must be a string, not {other}"
        ))),
    }
}

fn dry_run<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag("dry_run", d)
}

fn force<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag("force", d)
}

fn full<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag("full", d)
}

fn preflight<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag("preflight", d)
}

fn wait_for_export<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag("wait_for_export", d)
}

/// `true`, `false` or `null` (not given). Named by the caller: serde does not say which
/// field a `deserialize_with` failed in.
fn flag<'de, D: Deserializer<'de>>(name: &str, d: D) -> Result<bool, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(b),
        other => Err(D::Error::custom(format!(
            "{name} must be true or false, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(input: Value) -> Result<ExecutionInput, String> {
        ExecutionInput::from_value(&input).map_err(|e| e.to_string())
    }

    #[test]
    fn nothing_or_an_empty_object_is_the_schedules_day_from_pull() {
        assert_eq!(read(Value::Null).unwrap(), ExecutionInput::default());
        assert_eq!(read(json!({})).unwrap(), ExecutionInput::default());
        assert_eq!(ExecutionInput::default().first_stage(), Stage::Pull);
    }

    #[test]
    fn every_key_reads_and_nulls_and_blanks_mean_not_given() {
        let input = read(json!({"run_date": " 2026-11-28 ", "start_at": "push",
            "dry_run": true, "force": true, "full": true}))
        .unwrap();
        assert_eq!(input.run_date, NaiveDate::from_ymd_opt(2026, 11, 28));
        assert_eq!(input.start_at, Some(Stage::Push));
        assert!(input.dry_run && input.force && input.full);
        let input = read(json!({"run_date": "", "start_at": null, "dry_run": null})).unwrap();
        assert_eq!(input, ExecutionInput::default());
    }

    #[test]
    fn an_unknown_key_is_refused_by_name_with_the_keys_allowed() {
        let message = read(json!({"run_date": "2026-11-28", "dryrun": true})).unwrap_err();
        assert_eq!(
            message,
            "the execution input is not valid: unknown field \"dryrun\", expected one of \
             \"run_date\", \"start_at\", \"dry_run\", \"force\", \"full\", \"preflight\", \
             \"wait_for_export\""
        );
    }

    #[test]
    fn a_mistyped_value_is_refused_saying_what_is_wrong() {
        assert_eq!(
            read(json!({"run_date": "28/11/2026"})).unwrap_err(),
            "the execution input is not valid: run_date \"28/11/2026\" is not a date like 2026-11-28"
        );
        assert!(read(json!({"start_at": "load"})).unwrap_err().contains(
            "start_at \"load\" is not one of pull, transform, push, wait_for_alma, rollover_report"
        ));
        assert!(read(json!({"full": "yes"}))
            .unwrap_err()
            .contains("full must be true or false, not \"yes\""));
        assert_eq!(
            read(json!(["2026-11-28"])).unwrap_err(),
            "the execution input is not valid: it must be a JSON object"
        );
    }

    #[test]
    fn a_failed_plans_state_gives_the_date_it_asked_for_read_as_the_plan_reads_it() {
        let state = json!({"run_date": " 2026-11-28", "error": {}, "failed_state": "Plan the run"});
        assert_eq!(
            requested_run_date(&state),
            NaiveDate::from_ymd_opt(2026, 11, 28)
        );
        assert_eq!(requested_run_date(&json!({"run_date": "28/11"})), None);
        assert_eq!(requested_run_date(&json!({})), None);
    }

    #[test]
    fn the_run_date_defaults_to_the_start_day_in_the_librarys_time_zone() {
        let started: DateTime<Utc> = "2026-11-29T05:00:00Z".parse().unwrap();
        let tz: Tz = "America/Phoenix".parse().unwrap();
        assert_eq!(
            ExecutionInput::default().run_date_or_start_day(started, tz),
            NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
        );
    }

    #[test]
    fn only_the_schedules_input_is_a_scheduled_run() {
        let read = |v: Value| ExecutionInput::from_value(&v).unwrap();
        assert!(read(json!({"wait_for_export": true})).is_scheduled());
        for by_hand in [
            json!({}),
            Value::Null,
            json!({"run_date": "2026-11-28", "wait_for_export": true}),
            json!({"run_date": "2026-11-28"}),
            json!({"start_at": "pull"}),
            json!({"dry_run": true}),
            json!({"full": true}),
            json!({"force": true}),
        ] {
            assert!(!read(by_hand.clone()).is_scheduled(), "{by_hand}");
        }
    }
}
