//! Helpers shared by the simulator's tests: start it, call it, write loader files.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use leganto_tests::alma_sim::{AlmaSim, FixtureCourse, SimOptions};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

pub fn fixture(
    id: &str,
    code: &str,
    section: &str,
    name: &str,
    ids: &[&str],
    lists: bool,
) -> FixtureCourse {
    FixtureCourse {
        id: id.to_string(),
        code: code.to_string(),
        name: name.to_string(),
        section: section.to_string(),
        year: code.get(..4).unwrap_or("").to_string(),
        searchable_id: ids.iter().map(|s| s.to_string()).collect(),
        reading_lists: lists,
    }
}

/// A small store used by most API tests.
pub fn small_store() -> Vec<FixtureCourse> {
    vec![
        fixture(
            "6100000000001",
            "2018Fall-X-SDO598-92898",
            "92898",
            "SDO 598 Law Seminar",
            &["SDO 598"],
            false,
        ),
        fixture(
            "6100000000002",
            "2018Fall-X-SDO598-92898-3964",
            "3964",
            "SDO 598 Law Seminar II",
            &["SDO 598", "3964"],
            true,
        ),
        fixture(
            "6100000000003",
            "2026Fall-X-ENG101-12345",
            "12345",
            "ENG 101 Écriture Intro",
            &["ENG 101"],
            true,
        ),
        fixture(
            "6100000000004",
            "2026Spring-X-HST340-42318",
            "42318",
            "HST 340 History Methods",
            &[],
            false,
        ),
    ]
}

pub async fn start(courses: Vec<FixtureCourse>, tweak: impl FnOnce(&mut SimOptions)) -> AlmaSim {
    let mut opts = SimOptions {
        courses,
        ..SimOptions::default()
    };
    tweak(&mut opts);
    AlmaSim::start(opts).await.expect("simulator starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn remaining(&self) -> u64 {
        self.headers["x-exl-api-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The errorCode of an Alma error body, JSON or XML.
    pub fn error_code(&self) -> String {
        if self.is_xml() {
            assert!(
                self.text.contains("<errorsExist>true</errorsExist>"),
                "{}",
                self.text
            );
            let start = self.text.find("<errorCode>").expect("an errorCode") + 11;
            let end = self.text[start..].find("</errorCode>").expect("its end") + start;
            return self.text[start..end].to_string();
        }
        let v = self.json();
        assert_eq!(v["errorsExist"], true, "{}", self.text);
        v["errorList"]["error"][0]["errorCode"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// An XML body, by its content type.
    pub fn is_xml(&self) -> bool {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/xml"))
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let r = req.send().await.expect("request sent");
    Reply {
        status: r.status(),
        headers: r.headers().clone(),
        text: r.text().await.expect("body"),
    }
}

/// GET with the key in the header, asking for JSON.
pub async fn get(sim: &AlmaSim, path_and_query: &str) -> Reply {
    send(
        client()
            .get(format!("{}{path_and_query}", sim.base_url()))
            .header("Authorization", format!("apikey {}", sim.api_key()))
            .header("Accept", "application/json"),
    )
    .await
}

/// GET of one of the simulator's own endpoints (`/sim/...`, no key), as JSON.
pub async fn sim_get(base_url: &str, path: &str) -> Value {
    success_json(send(client().get(format!("{base_url}{path}"))).await)
}

/// POST to one of the simulator's own endpoints (`/sim/...`, no key), as JSON.
pub async fn sim_post(base_url: &str, path: &str) -> Value {
    success_json(send(client().post(format!("{base_url}{path}"))).await)
}

fn success_json(r: Reply) -> Value {
    assert!(r.status.is_success(), "{}: {}", r.status, r.text);
    r.json()
}

pub async fn get_json(sim: &AlmaSim, path_and_query: &str) -> Value {
    let r = get(sim, path_and_query).await;
    assert_eq!(r.status, StatusCode::OK, "{path_and_query}: {}", r.text);
    r.json()
}

/// Codes of the `course` array of a search answer (absent key → empty).
pub fn codes(v: &Value) -> Vec<String> {
    v.get("course")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| c["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// One row of the 34-column course loader format.
#[derive(Clone)]
pub struct Row(pub Vec<String>);

impl Row {
    pub fn new(code: &str, section: &str) -> Row {
        let mut cols = vec![String::new(); 34];
        cols[0] = code.to_string();
        cols[1] = format!("{code} title");
        cols[2] = section.to_string();
        cols[3] = "LW".to_string();
        cols[4] = "LAW".to_string();
        cols[13] = code.get(..4).unwrap_or("").to_string();
        Row(cols)
    }

    pub fn set(mut self, col: usize, v: &str) -> Row {
        self.0[col] = v.to_string();
        self
    }

    pub fn title(self, v: &str) -> Row {
        self.set(1, v)
    }
    pub fn dept(self, v: &str) -> Row {
        self.set(4, v)
    }
    /// Instructor n (1..=10).
    pub fn instructor(self, n: usize, v: &str) -> Row {
        self.set(16 + n, v)
    }
    pub fn all_instructors(self, v: &str) -> Row {
        self.set(27, v)
    }
    pub fn op(self, v: &str) -> Row {
        self.set(28, v)
    }
    pub fn old(self, code: &str, section: &str) -> Row {
        self.set(29, code).set(30, section)
    }
    pub fn participants(self, v: &str) -> Row {
        self.set(11, v)
    }

    pub fn line(&self) -> String {
        self.0.join("\t")
    }
}

pub const HEADER: &str = "Course Code\tCourse Title\tSection ID\tAcademic Department\tProcessing Department\tTerm1\tTerm2\tTerm3\tTerm4\tStart Date\tEnd Date\tNumber of Participants\tWeekly Hours\tYear\tSearchable ID 1\tSearchable ID 2\tALL_SEARCHABLE_IDS\tInstructor 1\tInstructor 2\tInstructor 3\tInstructor 4\tInstructor 5\tInstructor 6\tInstructor 7\tInstructor 8\tInstructor 9\tInstructor 10\tALL_INSTRUCTORS\tOperation\tOld Course Code\tOld Course Section ID\tSubmit Lists By\tCampus and Campus Participants\tReading List Name";

/// A well-formed loader file: header plus rows, CRLF line ends.
pub fn loader_file(rows: &[Row]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    s.push_str("\r\n");
    for r in rows {
        s.push_str(&r.line());
        s.push_str("\r\n");
    }
    s.into_bytes()
}

/// A simulator watching a fresh drop directory; the watcher is slowed right down so each
/// test decides when the loader runs (`run_loader_now`).
pub async fn with_drop_dir(courses: Vec<FixtureCourse>) -> (AlmaSim, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let sim = start(courses, |o| {
        o.drop_dir = Some(path);
        o.watch_interval = Duration::from_secs(3600);
        o.per_second_limit = None;
    })
    .await;
    (sim, dir)
}

pub fn drop_file(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write loader file");
}

/// The library's time zone in these tests (the simulator's default): loader file stamps
/// are its local time.
pub const LIBRARY_TIME_ZONE: chrono_tz::Tz = chrono_tz::America::Phoenix;

/// The loader file name stamped `at`, in the library's local time.
pub fn stamped(at: DateTime<Utc>) -> String {
    at.with_timezone(&LIBRARY_TIME_ZONE)
        .format("%Y%m%d%H%M%S.txt")
        .to_string()
}

/// A loader file name stamped in the next second, once the clock has reached it (this
/// waits for it): later than every run so far, and not later than any run from now on.
pub async fn stamp_after_the_runs_so_far() -> String {
    let now = Utc::now();
    let next = now.duration_trunc(TimeDelta::seconds(1)).unwrap() + TimeDelta::seconds(1);
    tokio::time::sleep((next - now).to_std().unwrap()).await;
    stamped(next)
}
