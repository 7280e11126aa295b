//! Memoized Alma lookups for a run: each year's courses and each course's reading lists
//! are fetched at most once, however many rows or concurrent callers ask.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use futures::{stream, StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use super::client::AlmaClient;
use super::error::AlmaError;
use super::progress::{Phase, Tracked};
use crate::domain::AlmaCourse;

type YearCell = Arc<OnceCell<Arc<Vec<AlmaCourse>>>>;

/// Per-run cache over an [`AlmaClient`]. A failed fetch is not cached: a later call tries
/// again.
pub struct CourseCache {
    client: AlmaClient,
    years: Mutex<HashMap<String, YearCell>>,
    reading_lists: Mutex<HashMap<String, Arc<OnceCell<bool>>>>,
}

impl std::fmt::Debug for CourseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourseCache")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// The cell for `key`, created empty if new. The lock is never held across an await.
fn cell<T>(map: &Mutex<HashMap<String, Arc<OnceCell<T>>>>, key: &str) -> Arc<OnceCell<T>> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.entry(key.to_string()).or_default().clone()
}

/// Distinct values, first occurrence first.
fn distinct(items: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    items
        .iter()
        .map(String::as_str)
        .filter(|s| seen.insert(*s))
        .collect()
}

impl CourseCache {
    pub fn new(client: AlmaClient) -> CourseCache {
        CourseCache {
            client,
            years: Mutex::new(HashMap::new()),
            reading_lists: Mutex::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &AlmaClient {
        &self.client
    }

    /// Fetches the courses of every year not yet held, all years concurrently.
    pub async fn load_years(&self, years: &[String]) -> Result<(), AlmaError> {
        let cells: Vec<_> = distinct(years)
            .into_iter()
            .map(|year| (year, cell(&self.years, year)))
            .collect();
        // One page per year not yet held until each year's first page tells more.
        let missing = cells.iter().filter(|(_, c)| !c.initialized()).count();
        let phase = Tracked::start(self.client.progress(), Phase::CoursePages, missing as u64);
        let fetches = cells.into_iter().map(|(year, cell)| async move {
            cell.get_or_try_init(|| async { self.client.courses_of_year(year).await.map(Arc::new) })
                .await
                .map(|_| ())
        });
        futures::future::try_join_all(fetches).await?;
        phase.finish();
        Ok(())
    }

    /// The courses of `year`, if loaded or inserted.
    pub fn courses_of_year(&self, year: &str) -> Option<Arc<Vec<AlmaCourse>>> {
        let map = self.years.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(year).and_then(|c| c.get().cloned())
    }

    /// Puts a year's courses in the cache (e.g. read back from a cache file), replacing any.
    pub fn insert_year(&self, year: &str, courses: Vec<AlmaCourse>) {
        let cell = Arc::new(OnceCell::new_with(Some(Arc::new(courses))));
        let mut map = self.years.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(year.to_string(), cell);
    }

    /// Whether each course has reading lists, asking Alma once per distinct id over the
    /// cache's lifetime; up to the client's concurrency at once.
    pub async fn reading_lists(
        &self,
        course_ids: &[String],
    ) -> Result<HashMap<String, bool>, AlmaError> {
        let ids = distinct(course_ids);
        let width = self.client.max_concurrency();
        let unasked = ids
            .iter()
            .filter(|id| !cell(&self.reading_lists, id).initialized())
            .count();
        let phase = Tracked::start(
            self.client.progress(),
            Phase::ReadingListChecks,
            unasked as u64,
        );
        let phase_ref = &phase;
        // Owned ids: a closure over `&str` makes callers' futures fail the `Send` check
        // for every lifetime ("FnOnce is not general enough", e.g. in an axum handler).
        let answers = stream::iter(ids.into_iter().map(str::to_owned))
            .map(|id: String| {
                let cell = cell(&self.reading_lists, &id);
                async move {
                    let has = cell
                        .get_or_try_init(|| async {
                            let has = self.client.has_reading_lists(&id).await;
                            if has.is_ok() {
                                phase_ref.advance();
                            }
                            has
                        })
                        .await?;
                    Ok::<_, AlmaError>((id, *has))
                }
            })
            .buffer_unordered(width)
            .try_collect()
            .await?;
        phase.finish();
        Ok(answers)
    }
}

/// Lambda and axum handlers spawn these futures, which must be `Send` for every lifetime,
/// not just the caller's: this fails to compile if one ever stops being so.
#[allow(dead_code)]
fn futures_are_spawnable(cache: Arc<CourseCache>, day: chrono::NaiveDate) {
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    let years = vec!["2026".to_string()];
    let c = Arc::clone(&cache);
    spawnable(async move { c.load_years(&years).await });
    let c = Arc::clone(&cache);
    spawnable(async move { c.reading_lists(&["1".to_string()]).await });
    let client = cache.client().clone();
    spawnable(async move {
        client.courses_of_year("2026").await?;
        client.search_courses("year~2026", 10, 0).await?;
        client.reading_list_count("1").await?;
        client.course("1").await?;
        client.delete_course("1").await?;
        client.find_scheduled_job("p").await?;
        client.job_instances("j", day).await?;
        client.job_instance("j", "i").await
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alma::AlmaClientConfig;

    fn course(id: &str, year: &str) -> AlmaCourse {
        AlmaCourse {
            id: id.into(),
            code: format!("C-{id}"),
            section: id.into(),
            year: year.into(),
            searchable_ids: vec![],
        }
    }

    fn offline_cache() -> CourseCache {
        // Port 9 (discard) on loopback: nothing answers, and these tests must not call.
        let client = AlmaClient::new(AlmaClientConfig::new(
            "http://127.0.0.1:9",
            secrecy::SecretString::from("k".to_string()),
        ))
        .unwrap();
        CourseCache::new(client)
    }

    #[tokio::test]
    async fn inserted_years_are_served_without_calling_alma() {
        let cache = offline_cache();
        assert!(cache.courses_of_year("2025").is_none());
        cache.insert_year("2025", vec![course("1", "2025")]);
        cache
            .load_years(&["2025".into(), "2025".into()])
            .await
            .unwrap();
        assert_eq!(cache.courses_of_year("2025").unwrap().len(), 1);
        assert_eq!(cache.client().calls_made(), 0);
        cache.insert_year("2025", vec![course("1", "2025"), course("2", "2025")]);
        assert_eq!(cache.courses_of_year("2025").unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_empty_id_list_needs_no_calls() {
        let cache = offline_cache();
        assert!(cache.reading_lists(&[]).await.unwrap().is_empty());
        assert_eq!(cache.client().calls_made(), 0);
    }

    #[tokio::test]
    async fn work_already_cached_shows_no_phase() {
        use crate::alma::progress::tests::Recorder;
        let rec = Arc::new(Recorder::default());
        let cache = CourseCache::new(offline_cache().client().with_progress(rec.clone()));
        cache.insert_year("2025", vec![course("1", "2025")]);
        cache.load_years(&["2025".into()]).await.unwrap();
        cache.reading_lists(&[]).await.unwrap();
        assert!(rec.calls().is_empty(), "{:?}", rec.calls());
    }

    #[tokio::test]
    async fn a_failed_year_ends_its_phase_as_cut_short() {
        use crate::alma::progress::tests::Recorder;
        let rec = Arc::new(Recorder::default());
        let client = AlmaClient::new(AlmaClientConfig {
            max_retries: 0,
            ..AlmaClientConfig::new(
                "http://127.0.0.1:9",
                secrecy::SecretString::from("k".to_string()),
            )
        })
        .unwrap();
        let cache = CourseCache::new(client.with_progress(rec.clone()));
        assert!(cache
            .load_years(&["2026".into(), "2027".into(), "2026".into()])
            .await
            .is_err());
        assert_eq!(
            rec.calls(),
            ["started CoursePages 2", "finished CoursePages false"]
        );
    }

    #[test]
    fn distinct_keeps_first_occurrences_in_order() {
        let v: Vec<String> = ["b", "a", "b", "c", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(distinct(&v), vec!["b", "a", "c"]);
    }
}
