//! What a person sees while Alma work goes on. On a terminal, a bar per phase on stderr:
//! done of total, pace, elapsed time and an ETA. Elsewhere (CI, cron, pipes), or with
//! `--quiet`, no bar. Either way each phase that completes ends with one plain line on
//! stderr; one cut short by an error leaves only the error's line. Nothing
//! here writes to stdout: scripts read the summary there, and it stays as it was.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use leganto_shared::alma::{Phase, Progress};
use leganto_shared::ops::rerun::{Step, StepKind};

/// Whether bars are drawn: stderr is a terminal and `--quiet` was not given.
pub fn bars_wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// The bars of one command's Alma work, at `rate` calls per second.
pub struct Bars {
    drawn: bool,
    rate: u32,
    phases: Mutex<HashMap<Phase, ProgressBar>>,
}

impl Bars {
    pub fn new(rate: u32, quiet: bool) -> Arc<Bars> {
        Arc::new(Bars {
            drawn: bars_wanted(quiet),
            rate,
            phases: Mutex::new(HashMap::new()),
        })
    }

    fn bar(&self, phase: Phase) -> Option<ProgressBar> {
        let phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
        phases.get(&phase).cloned()
    }

    fn style(&self, phase: Phase) -> ProgressStyle {
        let steps_per_second = f64::from(self.rate) / f64::from(phase.calls_per_step());
        // A template of fixed text: it parses, or the bar falls back to indicatif's plain
        // one rather than failing the command.
        ProgressStyle::with_template(
            "{prefix:>23} [{bar:24}] {pos} of {len} · {pace} · {took} elapsed · ETA {eta_at_rate}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key("pace", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", observed_pace(s));
        })
        .with_key("took", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&short(s.elapsed()));
        })
        .with_key(
            "eta_at_rate",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let remaining = s.len().unwrap_or(0).saturating_sub(s.pos());
                let left = eta(remaining, observed_pace(s), steps_per_second);
                let _ = w.write_str(&short(left));
            },
        )
    }
}

/// Steps per second so far; 0 before the first.
fn observed_pace(s: &ProgressState) -> f64 {
    let secs = s.elapsed().as_secs_f64();
    if s.pos() == 0 || secs <= 0.0 {
        0.0
    } else {
        s.pos() as f64 / secs
    }
}

/// Time left for `remaining` steps: at the pace seen so far, but never faster than the
/// configured rate allows (the token bucket holds every call to it), and at that rate
/// before any step is done.
pub fn eta(remaining: u64, observed_per_second: f64, configured_per_second: f64) -> Duration {
    let pace = if observed_per_second.is_finite() && observed_per_second > 0.0 {
        observed_per_second.min(configured_per_second)
    } else {
        configured_per_second
    };
    if pace <= 0.0 || !pace.is_finite() {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(remaining as f64 / pace).unwrap_or(Duration::MAX)
}

/// `0.4s`, `12.0s`, `4m 05s`, `1h 02m`.
pub fn short(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// The line a completed phase ends with, e.g. `Alma course pages: 13 of 13 in 1.3s (10.0/s)`.
pub fn phase_line(phase: Phase, done: u64, elapsed: Duration) -> String {
    let mut line = format!("{}: {done} of {done} in {}", phase.label(), short(elapsed));
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        let _ = write!(line, " ({:.1}/s)", done as f64 / secs);
    }
    line
}

impl Progress for Bars {
    fn started(&self, phase: Phase, total: u64) {
        let target = if self.drawn {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target)
            .with_style(self.style(phase))
            .with_prefix(phase.label());
        // Drawn at once, so even a short phase shows its total.
        bar.tick();
        let mut phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = phases.insert(phase, bar) {
            old.finish_and_clear();
        }
    }

    fn grew(&self, phase: Phase, more: u64) {
        if let Some(bar) = self.bar(phase) {
            bar.inc_length(more);
        }
    }

    fn advanced(&self, phase: Phase) {
        if let Some(bar) = self.bar(phase) {
            bar.inc(1);
        }
    }

    fn finished(&self, phase: Phase, completed: bool) {
        let bar = {
            let mut phases = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
            phases.remove(&phase)
        };
        if let Some(bar) = bar {
            // Read before clearing: finishing moves the position to the end.
            let (done, elapsed) = (bar.position(), bar.elapsed());
            bar.finish_and_clear();
            // A phase cut short leaves no line: the error that ended it is the command's
            // one line on stderr.
            if completed {
                eprintln!("{}", phase_line(phase, done, elapsed));
            }
        }
    }
}

/// `rerun --wait`: how long the execution has been in the state it waits in. On a
/// terminal a line under the last state's, refreshed in place; elsewhere one line on
/// stderr as each state is left.
pub struct StateClock {
    drawn: bool,
    /// The state entered last, when, and its line on the terminal.
    current: Option<(String, DateTime<Utc>, Option<ProgressBar>)>,
}

impl StateClock {
    pub fn new() -> StateClock {
        StateClock {
            drawn: bars_wanted(false),
            current: None,
        }
    }

    /// Before `step`'s own line: the state waited in ends with any step after its entry.
    pub fn before(&mut self, step: &Step) {
        let Some((state, entered, line)) = self.current.take() else {
            return;
        };
        if let Some(line) = line {
            line.finish_and_clear();
        } else if let StepKind::Exited(left) = &step.what {
            if *left == state {
                let spent = (step.at - entered).to_std().unwrap_or_default();
                eprintln!("  {} in {state}", short(spent));
            }
        }
    }

    /// After `step`'s own line: a state entered starts its clock.
    pub fn after(&mut self, step: &Step) {
        let StepKind::Entered(state) = &step.what else {
            return;
        };
        let line = self.drawn.then(|| {
            // Since the entry Step Functions recorded, not since this look.
            let since = (Utc::now() - step.at).to_std().unwrap_or_default();
            let line = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_elapsed(since)
                .with_message(state.clone())
                .with_style(
                    ProgressStyle::with_template("  {spinner} in {msg} for {took}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner())
                        .with_key("took", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = w.write_str(&short(s.elapsed()));
                        }),
                );
            // Drawn at once: a state left before the next tick still showed.
            line.tick();
            line.enable_steady_tick(Duration::from_millis(250));
            line
        });
        self.current = Some((state.clone(), step.at, line));
    }
}

impl Drop for StateClock {
    fn drop(&mut self) {
        if let Some((_, _, Some(line))) = self.current.take() {
            line.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_never_assumes_more_than_the_configured_rate() {
        // 120 left at 10 calls/s is 12 s, however fast the first steps seemed.
        assert_eq!(eta(120, 50.0, 10.0), Duration::from_secs(12));
        // Slower than configured: the pace seen counts.
        assert_eq!(eta(120, 4.0, 10.0), Duration::from_secs(30));
        // Nothing seen yet: the configured rate.
        assert_eq!(eta(120, 0.0, 10.0), Duration::from_secs(12));
        assert_eq!(eta(0, 3.0, 10.0), Duration::ZERO);
    }

    #[test]
    fn durations_read_as_seconds_minutes_or_hours() {
        assert_eq!(short(Duration::from_millis(400)), "0.4s");
        assert_eq!(short(Duration::from_secs(245)), "4m 05s");
        assert_eq!(short(Duration::from_secs(3720)), "1h 02m");
    }

    #[test]
    fn a_phase_ends_with_its_count_time_and_pace() {
        assert_eq!(
            phase_line(Phase::ReadingListChecks, 40, Duration::from_secs(4)),
            "reading-list checks: 40 of 40 in 4.0s (10.0/s)"
        );
        assert_eq!(
            phase_line(Phase::CoursePages, 0, Duration::ZERO),
            "Alma course pages: 0 of 0 in 0.0s"
        );
    }
}
