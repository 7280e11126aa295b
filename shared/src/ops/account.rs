//! An execution's account for people: the states it went through, in order, with a state
//! that loops (the wait for a person's decision, the job check, a resumed transform) on one
//! line with its count and total time. A held day's 1,400 passes read as one line.

use chrono::{DateTime, Utc};

use super::rerun::{Step, StepKind};

/// One pass through a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub name: String,
    pub entered: DateTime<Utc>,
    pub exited: Option<DateTime<Utc>>,
    /// A task failure inside the state (retried or caught), as `Error: cause`.
    pub failure: Option<String>,
}

/// One line of the account: a single visit, or a loop of several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    Once(&'a Visit),
    Loop(Loop),
}

/// Consecutive passes through the same few states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loop {
    /// Each state of the cycle, in order, with how often it was entered.
    pub states: Vec<(String, usize)>,
    pub entered: DateTime<Utc>,
    /// When the last pass left; `None` while it is still in it.
    pub exited: Option<DateTime<Utc>>,
}

impl Loop {
    /// "Check for a person's decision ×701, Wait for a person's decision ×700".
    pub fn names(&self) -> String {
        self.states
            .iter()
            .map(|(name, count)| format!("{name} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// From the first entry to the last exit (or to `now` while still looping).
    pub fn took(&self, now: DateTime<Utc>) -> chrono::Duration {
        self.exited.unwrap_or(now) - self.entered
    }
}

/// The longest cycle of states recognised as a loop: check → wait, or check → choice → wait.
const LONGEST_CYCLE: usize = 4;

/// The visits of an execution's steps, in order of entry.
pub fn visits(steps: &[Step]) -> Vec<Visit> {
    let mut visits: Vec<Visit> = Vec::new();
    for step in steps {
        match &step.what {
            StepKind::Entered(name) => visits.push(Visit {
                name: name.clone(),
                entered: step.at,
                exited: None,
                failure: None,
            }),
            StepKind::Exited(name) => {
                if let Some(v) = visits
                    .iter_mut()
                    .rev()
                    .find(|v| &v.name == name && v.exited.is_none())
                {
                    v.exited = Some(step.at);
                }
            }
            StepKind::TaskFailed { error, cause } => {
                if let Some(v) = visits.iter_mut().rev().find(|v| v.exited.is_none()) {
                    v.failure = Some(format!("{error}: {cause}"));
                }
            }
            _ => {}
        }
    }
    visits
}

/// The account of `visits`: runs of a repeated cycle of states become one [`Loop`]. A visit
/// that failed always stands on its own line, so a failure is never folded away.
pub fn collapse(visits: &[Visit]) -> Vec<Entry<'_>> {
    let mut entries = Vec::new();
    let mut i = 0;
    while i < visits.len() {
        match cycle_at(visits, i) {
            Some((cycle, covered)) => {
                entries.push(Entry::Loop(loop_of(&visits[i..i + covered], cycle)));
                i += covered;
            }
            None => {
                entries.push(Entry::Once(&visits[i]));
                i += 1;
            }
        }
    }
    entries
}

/// The cycle length and the visits covered by the loop starting at `start`: the cycle that
/// repeats at least twice and covers the most visits (the shortest such), plus a last
/// partial pass. `None` when nothing repeats there.
fn cycle_at(visits: &[Visit], start: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for cycle in 1..=LONGEST_CYCLE {
        let covered = repeated(visits, start, cycle);
        if covered >= 2 * cycle && best.is_none_or(|(_, most)| covered > most) {
            best = Some((cycle, covered));
        }
    }
    best
}

/// How many visits from `start` follow the names of the first `cycle` ones, without a
/// failure (whole passes and a last partial one).
fn repeated(visits: &[Visit], start: usize, cycle: usize) -> usize {
    let rest = &visits[start..];
    if rest.len() < cycle {
        return 0;
    }
    rest.iter()
        .enumerate()
        .take_while(|(j, v)| v.failure.is_none() && v.name == rest[j % cycle].name)
        .count()
}

fn loop_of(visits: &[Visit], cycle: usize) -> Loop {
    let states = visits[..cycle]
        .iter()
        .map(|first| {
            let count = visits.iter().filter(|v| v.name == first.name).count();
            (first.name.clone(), count)
        })
        .collect();
    let last = &visits[visits.len() - 1];
    Loop {
        states,
        entered: visits[0].entered,
        exited: last.exited,
    }
}

/// What a live follower shows of one step: the step, or first a line for the passes of a
/// loop it kept quiet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown<'a> {
    Step(&'a Step),
    /// "Wait for Alma ×12, Check the course loader job ×12 (12m 05s)": the passes after the
    /// first two, which were shown.
    Folded(String),
}

/// Keeps a followed execution's output short: once a cycle of states has been shown twice,
/// its further passes are counted, not printed, until the execution leaves it.
#[derive(Debug, Default)]
pub struct LiveAccount {
    entered: Vec<String>,
    quiet: Option<QuietLoop>,
}

#[derive(Debug)]
struct QuietLoop {
    cycle: usize,
    since: DateTime<Utc>,
    last: DateTime<Utc>,
    counts: Vec<(String, usize)>,
}

impl LiveAccount {
    pub fn feed<'a>(&mut self, step: &'a Step) -> Vec<Shown<'a>> {
        if let StepKind::Entered(name) = &step.what {
            self.entered.push(name.clone());
            if self.continues_quiet_loop(name, step.at) || self.starts_quiet_loop(step.at) {
                return Vec::new();
            }
        } else if matches!(step.what, StepKind::Exited(_)) && self.quiet.is_some() {
            return Vec::new();
        }
        let mut shown: Vec<Shown<'a>> = self.end_quiet_loop().into_iter().collect();
        shown.push(Shown::Step(step));
        shown
    }

    /// The loop's line, when the execution has left a quiet loop.
    pub fn end_quiet_loop(&mut self) -> Option<Shown<'static>> {
        let quiet = self.quiet.take()?;
        let names = quiet
            .counts
            .iter()
            .map(|(name, count)| format!("{name} ×{count}"))
            .collect::<Vec<_>>()
            .join(", ");
        Some(Shown::Folded(format!(
            "{names} more ({})",
            span(quiet.last - quiet.since)
        )))
    }

    /// The newest entry is the next state of the quiet loop's cycle: count it.
    fn continues_quiet_loop(&mut self, name: &str, at: DateTime<Utc>) -> bool {
        let n = self.entered.len();
        let Some(quiet) = &mut self.quiet else {
            return false;
        };
        if n <= quiet.cycle || self.entered[n - 1 - quiet.cycle] != name {
            return false;
        }
        quiet.last = at;
        match quiet.counts.iter_mut().find(|(n, _)| n == name) {
            Some((_, count)) => *count += 1,
            None => quiet.counts.push((name.to_string(), 1)),
        }
        true
    }

    /// The newest entry begins a third pass of a cycle shown twice: go quiet.
    fn starts_quiet_loop(&mut self, at: DateTime<Utc>) -> bool {
        if self.quiet.is_some() {
            return false;
        }
        let names = &self.entered;
        let n = names.len();
        let cycle = (1..=LONGEST_CYCLE).find(|&k| {
            n > 2 * k
                && names[n - 1] == names[n - 1 - k]
                && names[n - 1 - k..n - 1] == names[n - 1 - 2 * k..n - 1 - k]
        });
        let Some(cycle) = cycle else {
            return false;
        };
        self.quiet = Some(QuietLoop {
            cycle,
            since: at,
            last: at,
            counts: vec![(names[n - 1].clone(), 1)],
        });
        true
    }
}

/// A span of time for people: "4.2 s", "16m 40s", "2h 05m".
pub fn span(d: chrono::Duration) -> String {
    let millis = d.num_milliseconds().max(0);
    let secs = millis / 1000;
    if secs < 60 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 16, 20, 0).unwrap() + chrono::Duration::seconds(second)
    }

    fn visit(name: &str, second: i64) -> Visit {
        Visit {
            name: name.into(),
            entered: at(second),
            exited: Some(at(second + 1)),
            failure: None,
        }
    }

    fn names(entries: &[Entry<'_>]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Once(v) => v.name.clone(),
                Entry::Loop(l) => l.names(),
            })
            .collect()
    }

    #[test]
    fn a_held_day_s_decision_loop_is_one_line_with_its_counts_and_time() {
        let mut visits = vec![visit("Plan the run", 0), visit("Transform the export", 1)];
        for pass in 0..700 {
            visits.push(visit("Check for a person's decision", 2 + 2 * pass));
            visits.push(visit("Wait for a person's decision", 3 + 2 * pass));
        }
        visits.push(visit("Check for a person's decision", 1402));
        visits.push(visit("Push to Alma SFTP", 1403));
        let entries = collapse(&visits);
        assert_eq!(
            names(&entries),
            [
                "Plan the run",
                "Transform the export",
                "Check for a person's decision ×701, Wait for a person's decision ×700",
                "Push to Alma SFTP"
            ]
        );
        let Entry::Loop(held) = &entries[2] else {
            panic!("not a loop")
        };
        assert_eq!(span(held.took(at(0))), "23m 21s");
    }

    #[test]
    fn a_resumed_transform_and_a_job_check_loop_each_collapse() {
        let visits = vec![
            visit("Transform the export", 0),
            visit("Transform the export", 240),
            visit("Wait for Alma", 250),
            visit("Check Alma's job", 260),
            visit("Job done?", 261),
            visit("Wait for Alma", 262),
            visit("Check Alma's job", 270),
            visit("Job done?", 271),
            visit("Build the rollover report", 272),
        ];
        assert_eq!(
            names(&collapse(&visits)),
            [
                "Transform the export ×2",
                "Wait for Alma ×2, Check Alma's job ×2, Job done? ×2",
                "Build the rollover report"
            ]
        );
    }

    #[test]
    fn a_failed_pass_stands_on_its_own_line_and_one_pass_is_no_loop() {
        let mut failed = visit("Check Alma's job", 2);
        failed.failure = Some("AlmaUnavailable: 503".into());
        let visits = vec![
            visit("Check Alma's job", 0),
            visit("Wait for Alma", 1),
            failed,
            visit("Wait for Alma", 3),
            visit("Check Alma's job", 4),
        ];
        assert_eq!(
            names(&collapse(&visits)),
            [
                "Check Alma's job",
                "Wait for Alma",
                "Check Alma's job",
                "Wait for Alma",
                "Check Alma's job"
            ]
        );
    }

    #[test]
    fn steps_become_visits_with_their_exits_and_failures() {
        let step = |id, second, what| Step {
            id,
            at: at(second),
            what,
        };
        let steps = [
            step(1, 0, StepKind::ExecutionStarted),
            step(2, 0, StepKind::Entered("Pull".into())),
            step(
                3,
                1,
                StepKind::TaskFailed {
                    error: "SftpUnavailable".into(),
                    cause: "timed out".into(),
                },
            ),
            step(4, 5, StepKind::Exited("Pull".into())),
            step(5, 5, StepKind::Entered("Transform".into())),
        ];
        let visits = visits(&steps);
        assert_eq!(visits.len(), 2);
        assert_eq!(visits[0].exited, Some(at(5)));
        assert_eq!(
            visits[0].failure.as_deref(),
            Some("SftpUnavailable: timed out")
        );
        assert_eq!(visits[1].exited, None);
    }

    #[test]
    fn spans_read_in_the_largest_sensible_unit() {
        assert_eq!(span(chrono::Duration::milliseconds(4200)), "4.2 s");
        assert_eq!(span(chrono::Duration::seconds(1000)), "16m 40s");
        assert_eq!(span(chrono::Duration::seconds(7500)), "2h 05m");
    }

    #[test]
    fn a_followed_loop_shows_two_passes_then_one_line_when_it_ends() {
        let mut id = 0;
        let mut steps = Vec::new();
        let mut enter = |name: &str, second: i64| {
            id += 1;
            steps.push(Step {
                id,
                at: at(second),
                what: StepKind::Entered(name.into()),
            });
        };
        enter("Push to Alma SFTP", 0);
        for pass in 0..10 {
            enter("Wait for Alma", 1 + 2 * pass);
            enter("Check the course loader job", 2 + 2 * pass);
        }
        enter("Build the rollover report", 30);
        let mut live = LiveAccount::default();
        let shown: Vec<String> = steps
            .iter()
            .flat_map(|s| live.feed(s))
            .map(|s| match s {
                Shown::Step(step) => step.what.to_string(),
                Shown::Folded(text) => text,
            })
            .collect();
        assert_eq!(
            shown,
            [
                "entered  Push to Alma SFTP",
                "entered  Wait for Alma",
                "entered  Check the course loader job",
                "entered  Wait for Alma",
                "entered  Check the course loader job",
                "Wait for Alma ×8, Check the course loader job ×8 more (15.0 s)",
                "entered  Build the rollover report",
            ]
        );
        assert!(live.end_quiet_loop().is_none());
    }
}
