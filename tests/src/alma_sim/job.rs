//! One run of the course loader job: its instance going QUEUED → RUNNING → COMPLETED_*,
//! and its load, worked on a copy of the courses so that Alma answers its API meanwhile.
//!
//! The load takes a copy of the courses when it starts RUNNING, works through the file's
//! rows on that copy in a worker thread (spending the loader's time per row there), and
//! then writes what it changed into the store in one short lock: the courses it created
//! or changed and the ones it deleted. A change made through the API during the load (a
//! DELETE, a reading list) stays, unless the load wrote that same course.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::loader::{self, IdAlloc, LoadReport};
use super::model::{JobInstance, JobStatus, LoaderCounters, SimCourse};
use super::server::Shared;

/// How often a waiting worker thread looks whether its run was dropped.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// A run that found no file: finished at once with COMPLETED_NO_BULKS and zero counters,
/// as Alma reports a scheduled import that had nothing to take. Its file name is empty.
pub(crate) fn run_empty(shared: &Shared) -> JobInstance {
    let now = Utc::now();
    let mut store = shared.lock();
    let id = store.next_instance.to_string();
    store.next_instance += 1;
    let instance = JobInstance {
        id,
        file_name: String::new(),
        status: JobStatus::CompletedNoBulks,
        submit_time: now,
        start_time: Some(now),
        end_time: Some(now),
        counters: LoaderCounters::default(),
        row_errors: Vec::new(),
        failure: None,
    };
    store.instances.push(instance.clone());
    tracing::info!(instance = %instance.id, "course loader job found no file");
    instance
}

/// Runs one file: QUEUED for half of `loader_delay`, then RUNNING for the other half and
/// while it works through the rows at `loader_row_time` each, then its final status.
pub(crate) async fn run_file(shared: &Shared, name: &str, bytes: Vec<u8>) -> JobInstance {
    let fixed = shared.settings.loader_delay;
    let id = submit(shared, name);
    tracing::info!(file = %name, instance = %id, "course loader job queued");
    sleep(fixed / 2).await;
    let copy = start(shared, &id);
    sleep(fixed - fixed / 2).await;
    let loaded = load_on_copy(shared, bytes, copy).await;
    tracing::info!(
        file = %name, instance = %id, status = loaded.report.status.value(),
        rows = loaded.report.counters.rows_read, errors = loaded.report.counters.errors,
        "course loader job finished"
    );
    finish(shared, &id, name, loaded)
}

/// Adds the QUEUED instance and returns its id.
fn submit(shared: &Shared, name: &str) -> String {
    let mut store = shared.lock();
    let id = store.next_instance.to_string();
    store.next_instance += 1;
    store.instances.push(JobInstance {
        id: id.clone(),
        file_name: name.to_string(),
        status: JobStatus::Queued,
        submit_time: Utc::now(),
        start_time: None,
        end_time: None,
        counters: LoaderCounters::default(),
        row_errors: Vec::new(),
        failure: None,
    });
    id
}

/// The courses as a load starts from them.
struct Copy {
    courses: Vec<SimCourse>,
    ids: IdAlloc,
}

/// Marks the instance RUNNING and copies the courses, in one lock.
fn start(shared: &Shared, id: &str) -> Copy {
    let mut store = shared.lock();
    if let Some(i) = store.instances.iter_mut().find(|i| i.id == id) {
        i.status = JobStatus::Running;
        i.start_time = Some(Utc::now());
    }
    Copy {
        courses: store.courses.clone(),
        ids: store.ids.clone(),
    }
}

/// What a load came to, ready to be written into the store.
struct Loaded {
    report: LoadReport,
    changes: CourseChanges,
    ids: IdAlloc,
}

/// Sets its flag when dropped: a run whose future is dropped (the simulator stopped)
/// tells its worker thread to stop too.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Applies the file to the copy in a worker thread, off the store's lock.
async fn load_on_copy(shared: &Shared, bytes: Vec<u8>, copy: Copy) -> Loaded {
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let stopped = Arc::clone(&stop.0);
    let departments = shared.settings.processing_departments.clone();
    let row_time = shared.settings.loader_row_time;
    let kept_ids = copy.ids.clone();
    let worker = tokio::task::spawn_blocking(move || {
        let before = copy.courses.clone();
        let (mut courses, mut ids) = (copy.courses, copy.ids);
        let paced = pace(row_time, &stopped);
        let report =
            loader::apply_file_row_by_row(&bytes, &mut courses, &mut ids, &departments, paced);
        // A failed run changes nothing.
        let changes = match report.status {
            JobStatus::CompletedFailed => CourseChanges::default(),
            _ => CourseChanges::between(&before, courses),
        };
        Loaded {
            report,
            changes,
            ids,
        }
    });
    let loaded = worker.await.unwrap_or_else(|e| Loaded {
        report: LoadReport {
            status: JobStatus::CompletedFailed,
            counters: LoaderCounters::default(),
            row_errors: Vec::new(),
            failure: Some(format!("the loader stopped: {e}")),
        },
        changes: CourseChanges::default(),
        ids: kept_ids,
    });
    drop(stop);
    loaded
}

/// After each row: waits until `row_time` per row has passed since the first; `false`
/// once the run was dropped.
fn pace(row_time: Duration, stopped: &AtomicBool) -> impl FnMut() -> bool + '_ {
    let began = Instant::now();
    let mut rows: u32 = 0;
    move || {
        rows = rows.saturating_add(1);
        let due = began + row_time.saturating_mul(rows);
        loop {
            if stopped.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(STOP_CHECK));
        }
    }
}

/// Writes the load's changes and its outcome in one lock; returns the finished instance.
fn finish(shared: &Shared, id: &str, name: &str, loaded: Loaded) -> JobInstance {
    let now = Utc::now();
    let mut store = shared.lock();
    let st = &mut *store;
    loaded.changes.write_into(&mut st.courses);
    st.ids = loaded.ids;
    let report = loaded.report;
    match st.instances.iter_mut().find(|i| i.id == id) {
        Some(instance) => {
            instance.status = report.status;
            instance.start_time.get_or_insert(now);
            instance.end_time = Some(now);
            instance.counters = report.counters;
            instance.row_errors = report.row_errors;
            instance.failure = report.failure;
            instance.clone()
        }
        // Instances are only ever appended; this arm only keeps the types total.
        None => JobInstance {
            id: id.to_string(),
            file_name: name.to_string(),
            status: report.status,
            submit_time: now,
            start_time: Some(now),
            end_time: Some(now),
            counters: report.counters,
            row_errors: report.row_errors,
            failure: report.failure,
        },
    }
}

/// What a load did to the courses, by course id.
#[derive(Debug, Default)]
struct CourseChanges {
    /// Created or changed, in the order the load left them (new courses last).
    written: Vec<SimCourse>,
    deleted: HashSet<String>,
}

impl CourseChanges {
    fn between(before: &[SimCourse], after: Vec<SimCourse>) -> CourseChanges {
        let kept: HashSet<&str> = after.iter().map(|c| c.id.as_str()).collect();
        let deleted = before
            .iter()
            .filter(|c| !kept.contains(c.id.as_str()))
            .map(|c| c.id.clone())
            .collect();
        let old: HashMap<&str, &SimCourse> = before.iter().map(|c| (c.id.as_str(), c)).collect();
        let written = after
            .into_iter()
            .filter(|c| old.get(c.id.as_str()).is_none_or(|o| *o != c))
            .collect();
        CourseChanges { written, deleted }
    }

    /// Deleted courses go, written ones replace theirs in place or are added at the end.
    fn write_into(self, courses: &mut Vec<SimCourse>) {
        if self.written.is_empty() && self.deleted.is_empty() {
            return;
        }
        courses.retain(|c| !self.deleted.contains(&c.id));
        let at: HashMap<String, usize> = courses
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        for course in self.written {
            match at.get(&course.id) {
                Some(&i) => courses[i] = course,
                None => courses.push(course),
            }
        }
    }
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(id: &str, name: &str) -> SimCourse {
        SimCourse {
            id: id.to_string(),
            code: format!("CODE-{id}"),
            name: name.to_string(),
            section: "1".to_string(),
            year: "2026".to_string(),
            searchable_ids: Vec::new(),
            instructors: Vec::new(),
            academic_department: None,
            processing_department: None,
            terms: Vec::new(),
            start_date: None,
            end_date: None,
            participants: None,
            weekly_hours: None,
            submit_lists_by: None,
            campus_participants: None,
            reading_lists: Vec::new(),
        }
    }

    fn names(courses: &[SimCourse]) -> Vec<&str> {
        courses.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn a_loads_changes_keep_what_the_api_changed_meanwhile() {
        let before = vec![course("1", "one"), course("2", "two"), course("3", "three")];
        // The load changed 1, deleted 2 and created 4.
        let after = vec![
            course("1", "one, changed"),
            course("3", "three"),
            course("4", "four"),
        ];
        let changes = CourseChanges::between(&before, after);
        // Meanwhile the API deleted 3 and someone added 5.
        let mut live = vec![course("1", "one"), course("2", "two"), course("5", "five")];
        changes.write_into(&mut live);
        assert_eq!(names(&live), ["one, changed", "five", "four"]);
    }

    #[test]
    fn a_load_that_changed_nothing_writes_nothing() {
        let before = vec![course("1", "one")];
        let changes = CourseChanges::between(&before, before.clone());
        let mut live = vec![course("9", "nine")];
        changes.write_into(&mut live);
        assert_eq!(names(&live), ["nine"]);
    }
}
