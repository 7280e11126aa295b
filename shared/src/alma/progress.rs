//! How far long Alma work has come, for a person watching it: each phase has a number of
//! steps (pages, checks, deletions), some known only once the first answers are in. An
//! observer is optional: a client without one (every Lambda's) reports nothing.

use std::sync::Arc;

/// A stretch of Alma work a person waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `GET /courses` pages of the years or term asked for.
    CoursePages,
    /// One reading-list check per course.
    ReadingListChecks,
    /// One re-check and delete per planned course.
    Deletions,
}

impl Phase {
    /// How people see it named.
    pub fn label(self) -> &'static str {
        match self {
            Phase::CoursePages => "Alma course pages",
            Phase::ReadingListChecks => "reading-list checks",
            Phase::Deletions => "re-checks and deletions",
        }
    }

    /// Alma calls one step takes, at most, when all goes well: how a rate in calls per
    /// second becomes steps per second.
    pub fn calls_per_step(self) -> u32 {
        match self {
            Phase::CoursePages | Phase::ReadingListChecks => 1,
            // GET the course, GET its reading lists, DELETE it.
            Phase::Deletions => 3,
        }
    }
}

/// Told about each phase as it goes. Calls come from concurrent tasks, in any order
/// within a phase, and must not block.
pub trait Progress: Send + Sync {
    /// `phase` begins with `total` steps known so far.
    fn started(&self, phase: Phase, total: u64);
    /// `more` steps became known (e.g. a year's first page told its page count).
    fn grew(&self, phase: Phase, more: u64);
    /// One step is done.
    fn advanced(&self, phase: Phase);
    /// `phase` ended: all its steps done when `completed`, else cut short by an error.
    fn finished(&self, phase: Phase, completed: bool);
}

/// A phase being reported: ends as not completed if dropped before [`Tracked::finish`]
/// (an error returned early with `?`).
pub(crate) struct Tracked {
    progress: Option<Arc<dyn Progress>>,
    phase: Phase,
    open: bool,
}

impl Tracked {
    /// Starts `phase` on `progress`, if any; a phase with nothing to do is not shown.
    pub(crate) fn start(progress: Option<&Arc<dyn Progress>>, phase: Phase, total: u64) -> Tracked {
        let progress = progress.filter(|_| total > 0).cloned();
        if let Some(p) = &progress {
            p.started(phase, total);
        }
        Tracked {
            progress,
            phase,
            open: true,
        }
    }

    /// The phase has `more` steps than it started with (e.g. a year's first page told
    /// how many pages follow).
    pub(crate) fn grow(&self, more: u64) {
        if let (Some(p), 1..) = (&self.progress, more) {
            p.grew(self.phase, more);
        }
    }

    pub(crate) fn advance(&self) {
        if let Some(p) = &self.progress {
            p.advanced(self.phase);
        }
    }

    pub(crate) fn finish(mut self) {
        self.close(true);
    }

    fn close(&mut self, completed: bool) {
        if std::mem::take(&mut self.open) {
            if let Some(p) = &self.progress {
                p.finished(self.phase, completed);
            }
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.close(false);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Every call, in order, as text: `started CoursePages 2`, `advanced CoursePages`, …
    #[derive(Default)]
    pub(crate) struct Recorder(pub Mutex<Vec<String>>);

    impl Recorder {
        pub(crate) fn calls(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }

        fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
    }

    impl Progress for Recorder {
        fn started(&self, phase: Phase, total: u64) {
            self.push(format!("started {phase:?} {total}"));
        }
        fn grew(&self, phase: Phase, more: u64) {
            self.push(format!("grew {phase:?} {more}"));
        }
        fn advanced(&self, phase: Phase) {
            self.push(format!("advanced {phase:?}"));
        }
        fn finished(&self, phase: Phase, completed: bool) {
            self.push(format!("finished {phase:?} {completed}"));
        }
    }

    #[test]
    fn a_phase_dropped_before_it_finishes_is_reported_as_cut_short() {
        let rec = Arc::new(Recorder::default());
        let p: Arc<dyn Progress> = rec.clone();
        {
            let t = Tracked::start(Some(&p), Phase::Deletions, 2);
            t.advance();
        }
        Tracked::start(Some(&p), Phase::CoursePages, 1).finish();
        assert_eq!(
            rec.calls(),
            [
                "started Deletions 2",
                "advanced Deletions",
                "finished Deletions false",
                "started CoursePages 1",
                "finished CoursePages true",
            ]
        );
    }

    #[test]
    fn a_phase_with_nothing_to_do_is_not_reported() {
        let rec = Arc::new(Recorder::default());
        let p: Arc<dyn Progress> = rec.clone();
        Tracked::start(Some(&p), Phase::ReadingListChecks, 0).finish();
        Tracked::start(None, Phase::ReadingListChecks, 3).finish();
        assert!(rec.calls().is_empty());
    }
}
