//! Alma's JSON shapes for the simulator's objects, and their XML rendering.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::model::{JobInstance, JobStatus, SimCourse, SimReadingList};

/// `2026-08-20Z`, Alma's date form.
pub fn alma_date(d: NaiveDate) -> String {
    format!("{}Z", d.format("%Y-%m-%d"))
}

/// `2026-11-28T10:00:00.000Z`.
pub fn alma_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn code_desc(value: &str, desc: &str) -> Value {
    json!({ "value": value, "desc": desc })
}

pub fn reading_list(base: &str, course_id: &str, l: &SimReadingList) -> Value {
    json!({
        "link": format!("{base}/almaws/v1/courses/{course_id}/reading-lists/{}", l.id),
        "id": l.id,
        "code": l.code,
        "name": l.name,
        "status": code_desc(&l.status, &l.status),
        "visibility": code_desc("RESTRICTED", "Restricted"),
    })
}

/// The course object; `full` adds `reading_lists`.
pub fn course(base: &str, c: &SimCourse, full: bool) -> Value {
    let mut m = Map::new();
    m.insert(
        "link".into(),
        json!(format!("{base}/almaws/v1/courses/{}", c.id)),
    );
    m.insert("id".into(), json!(c.id));
    m.insert("code".into(), json!(c.code));
    m.insert("name".into(), json!(c.name));
    m.insert("section".into(), json!(c.section));
    if let Some(d) = &c.academic_department {
        m.insert("academic_department".into(), code_desc(d, d));
    }
    if let Some(d) = &c.processing_department {
        m.insert("processing_department".into(), code_desc(d, d));
    }
    if !c.terms.is_empty() {
        let terms: Vec<Value> = c.terms.iter().map(|t| code_desc(t, t)).collect();
        m.insert("term".into(), Value::Array(terms));
    }
    m.insert("status".into(), json!("ACTIVE"));
    if let Some(d) = c.start_date {
        m.insert("start_date".into(), json!(alma_date(d)));
    }
    if let Some(d) = c.end_date {
        m.insert("end_date".into(), json!(alma_date(d)));
    }
    if let Some(n) = c.weekly_hours {
        m.insert("weekly_hours".into(), json!(n));
    }
    if let Some(n) = c.participants {
        m.insert("participants".into(), json!(n));
    }
    if !c.year.is_empty() {
        m.insert("year".into(), json!(c.year));
    }
    if !c.searchable_ids.is_empty() {
        m.insert("searchable_id".into(), json!(c.searchable_ids));
    }
    if !c.instructors.is_empty() {
        let instructors: Vec<Value> = c
            .instructors
            .iter()
            .map(|p| json!({ "primary_id": p }))
            .collect();
        m.insert("instructor".into(), Value::Array(instructors));
    }
    if let Some(d) = c.submit_lists_by {
        m.insert("submit_by_date".into(), json!(alma_date(d)));
    }
    if full {
        let mut lists = Map::new();
        if !c.reading_lists.is_empty() {
            let v: Vec<Value> = c
                .reading_lists
                .iter()
                .map(|l| reading_list(base, &c.id, l))
                .collect();
            lists.insert("reading_list".into(), Value::Array(v));
        }
        m.insert("reading_lists".into(), Value::Object(lists));
    }
    Value::Object(m)
}

/// `{"<key>": [...], "total_record_count": n}` with the key absent when the page is empty.
pub fn page(key: &str, items: Vec<Value>, total: usize) -> Value {
    let mut m = Map::new();
    if !items.is_empty() {
        m.insert(key.into(), Value::Array(items));
    }
    m.insert("total_record_count".into(), json!(total));
    Value::Object(m)
}

pub fn job(base: &str, job_id: &str, profile_id: &str) -> Value {
    json!({
        "link": format!("{base}/almaws/v1/conf/jobs/{job_id}"),
        "id": job_id,
        "name": "Course Loader - Course integration profile",
        "description": "Loads courses from the institution's SFTP directory",
        "type": code_desc("SCHEDULED", "Scheduled"),
        "category": code_desc("COURSES", "Courses"),
        "content": code_desc("COURSES", "Courses"),
        "related_profile": { "value": profile_id },
    })
}

pub fn job_instance(base: &str, job_id: &str, i: &JobInstance) -> Value {
    let mut m = Map::new();
    m.insert(
        "link".into(),
        json!(format!(
            "{base}/almaws/v1/conf/jobs/{job_id}/instances/{}",
            i.id
        )),
    );
    m.insert("id".into(), json!(i.id));
    m.insert("external_id".into(), json!(i.file_name));
    m.insert("submit_time".into(), json!(alma_time(i.submit_time)));
    if let Some(t) = i.start_time {
        m.insert("start_time".into(), json!(alma_time(t)));
    }
    if let Some(t) = i.end_time {
        m.insert("end_time".into(), json!(alma_time(t)));
    }
    m.insert("progress".into(), json!(i.progress()));
    m.insert(
        "status".into(),
        code_desc(i.status.value(), i.status.desc()),
    );
    m.insert(
        "job_info".into(),
        json!({ "id": job_id, "name": "Course Loader - Course integration profile" }),
    );
    if i.status.is_final() && i.status != JobStatus::CompletedFailed {
        let counters: Vec<Value> = i
            .counters
            .entries()
            .iter()
            .map(|(t, d, n)| json!({ "type": code_desc(t, d), "value": n.to_string() }))
            .collect();
        // JSON lists them at the top level; XML wraps them in `<counters>`.
        m.insert("counter".into(), Value::Array(counters));
    }
    let mut alerts = Vec::new();
    if let Some(reason) = &i.failure {
        alerts.push(code_desc("alert_general_error", reason));
    }
    if i.status == JobStatus::CompletedWarning {
        alerts.push(code_desc(
            "alert_course_loader_row_errors",
            &format!(
                "{} rows were not loaded; see the job report",
                i.counters.errors
            ),
        ));
    }
    if !alerts.is_empty() {
        m.insert("alert".into(), Value::Array(alerts));
    }
    Value::Object(m)
}

/// Alma's error body.
pub fn error(code: &str, message: &str, tracking_id: &str) -> Value {
    json!({
        "errorsExist": true,
        "errorList": { "error": [{
            "errorCode": code,
            "errorMessage": message,
            "trackingId": tracking_id,
        }]},
        "result": null,
    })
}

/// In Alma's XML, these JSON array keys sit inside a plural wrapper element.
fn xml_wrapper(key: &str) -> Option<&'static str> {
    match key {
        "searchable_id" => Some("searchable_ids"),
        "instructor" => Some("instructors"),
        "term" => Some("terms"),
        // A job instance's lists (`rest_job_instance`: `xml.wrapped`).
        "counter" => Some("counters"),
        "alert" => Some("alerts"),
        _ => None,
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn element(out: &mut String, name: &str, v: &Value, attrs: &[(&str, String)]) {
    out.push('<');
    out.push_str(name);
    for (k, val) in attrs {
        out.push_str(&format!(" {k}=\"{}\"", escape(val)));
    }
    match v {
        // `{value, desc}` becomes `<name desc="...">value</name>`.
        Value::Object(m)
            if m.contains_key("value") && m.keys().all(|k| k == "value" || k == "desc") =>
        {
            if let Some(d) = m.get("desc") {
                out.push_str(&format!(" desc=\"{}\"", escape(&scalar(d))));
            }
            out.push('>');
            out.push_str(&escape(&scalar(&m["value"])));
        }
        Value::Object(m) => {
            let mut inner = String::new();
            let mut own_attrs = String::new();
            for (k, child) in m {
                match (k.as_str(), child) {
                    ("link" | "total_record_count", _) => {
                        own_attrs.push_str(&format!(" {k}=\"{}\"", escape(&scalar(child))));
                    }
                    (_, Value::Array(items)) => {
                        let wrapper = xml_wrapper(k);
                        if let Some(w) = wrapper {
                            inner.push_str(&format!("<{w}>"));
                        }
                        for item in items {
                            element(&mut inner, k, item, &[]);
                        }
                        if let Some(w) = wrapper {
                            inner.push_str(&format!("</{w}>"));
                        }
                    }
                    (_, Value::Null) => {}
                    _ => element(&mut inner, k, child, &[]),
                }
            }
            out.push_str(&own_attrs);
            out.push('>');
            out.push_str(&inner);
        }
        other => {
            out.push('>');
            out.push_str(&escape(&scalar(other)));
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Renders a JSON body as Alma's XML under `root` (e.g. `courses`, `course`).
pub fn to_xml(root: &str, v: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>");
    if let Some(list) = v.get("errorList") {
        // In Alma's order: the flag, then the list.
        out.push_str(
            "<web_service_result xmlns=\"http://com/exlibris/urm/general/xmlbeans\">\
             <errorsExist>true</errorsExist>",
        );
        element(&mut out, "errorList", list, &[]);
        out.push_str("</web_service_result>");
    } else {
        element(&mut out, root, v, &[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_wraps_plural_arrays_and_flattens_code_desc() {
        let v = json!({"total_record_count": 1, "course": [{"link": "L", "code": "A&B",
            "processing_department": {"value": "LAW", "desc": "Law"},
            "searchable_id": ["X", "Y"]}]});
        let x = to_xml("courses", &v);
        assert!(x.contains("<courses total_record_count=\"1\">"), "{x}");
        assert!(x.contains("<course link=\"L\"><code>A&amp;B</code>"), "{x}");
        assert!(x.contains("<processing_department desc=\"Law\">LAW</processing_department>"));
        assert!(x.contains("<searchable_ids><searchable_id>X</searchable_id><searchable_id>Y</searchable_id></searchable_ids>"));
    }

    #[test]
    fn xml_wraps_a_job_instance_s_counters_and_alerts() {
        let v = json!({"id": "1", "progress": 37.5,
            "counter": [{"type": {"value": "rows", "desc": "Rows"}, "value": "4"}],
            "alert": [{"value": "alert_general_success", "desc": "Done"}]});
        let x = to_xml("job_instance", &v);
        assert!(
            x.contains("<counters><counter><type desc=\"Rows\">rows</type><value>4</value></counter></counters>"),
            "{x}"
        );
        assert!(
            x.contains("<alerts><alert desc=\"Done\">alert_general_success</alert></alerts>"),
            "{x}"
        );
        assert!(x.contains("<progress>37.5</progress>"), "{x}");
    }

    #[test]
    fn an_xml_error_has_the_flag_then_the_list() {
        let x = to_xml("ignored", &error("402216", "Invalid job id.", "E01-1"));
        assert!(
            x.ends_with(
                "<web_service_result xmlns=\"http://com/exlibris/urm/general/xmlbeans\">\
                 <errorsExist>true</errorsExist><errorList><error><errorCode>402216</errorCode>\
                 <errorMessage>Invalid job id.</errorMessage><trackingId>E01-1</trackingId>\
                 </error></errorList></web_service_result>"
            ),
            "{x}"
        );
    }
}
