//! The day page as one self-contained HTML file: inline CSS and SVG, no script, no request
//! to anywhere. Every value that comes from the export, Alma or an error message is escaped.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, Utc};

use super::chart;
use super::figures::{thousands, DayFigures, RunStatus};

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attributes.
pub use crate::email::html_escape as escape;

/// A URL for an `href`: only http(s) and relative links, escaped; anything else is dropped.
fn href(url: &str) -> Option<String> {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s);
    match scheme {
        Some("http" | "https") | None => Some(escape(url)),
        Some(s) if s.contains('/') || s.contains('?') || s.contains('#') => Some(escape(url)),
        Some(_) => None,
    }
}

/// One rejected row of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectRow {
    pub line: u64,
    pub course_code: String,
    pub column: String,
    pub reason: String,
}

/// One row of the rollover report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloverRow {
    pub course_code: String,
    pub section_id: String,
    pub title: String,
    pub old_course_code: String,
    pub old_section_id: String,
}

/// One of the day's files: its key, size, a link relative to the page (which works in a
/// local copy of the bucket) and its S3 console link when the region is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLink {
    pub key: String,
    pub size: u64,
    pub relative: String,
    pub console: Option<String>,
}

/// Everything one page shows.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub figures: &'a DayFigures,
    /// Up to 42 days ending at the run date (this day's own figures included).
    pub history: &'a [DayFigures],
    pub rejects: &'a [RejectRow],
    pub rejects_total: u64,
    pub rollover_rows: &'a [RolloverRow],
    pub rollover_total: u64,
    pub files: &'a [FileLink],
    pub execution_url: Option<&'a str>,
    pub made_at: DateTime<Utc>,
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232a;background:#f5f6f8}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.muted{color:#5b6470}
.status{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:14px}
.succeeded{background:#dcf3e4;color:#11602f}.failed{background:#fde2e1;color:#8a1712}.dry{background:#e6ecf7;color:#243f73}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border:1px solid #e0e3e8;border-radius:8px;padding:10px 12px;min-width:0}
.card .label{font-size:13px;color:#5b6470}.card .value{font-size:22px;font-weight:600;overflow-wrap:anywhere}.card .value.text{font-size:15px;padding-top:4px;overflow-wrap:break-word}
.card .note{font-size:12px;color:#5b6470;overflow-wrap:anywhere}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #e0e3e8;border-radius:8px;padding:8px 10px;min-width:0}
figcaption{font-size:14px;font-weight:600;margin-bottom:4px}
svg.chart{display:block;width:100%;height:auto}
.bar{fill:#7d9cc9}.bar.zero{fill:#b9c3cf}.bar.today{fill:#1f4e95}.axis{stroke:#9aa3ad;stroke-width:1}.grid{stroke:#e3e6ea;stroke-width:1}
.tick,.empty{font-size:10px;fill:#5b6470}
.table{overflow-x:auto;background:#fff;border:1px solid #e0e3e8;border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eef0f3;vertical-align:top;overflow-wrap:anywhere}
th{background:#f0f2f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.error{background:#fff4f3;border:1px solid #f3c2bf;border-radius:8px;padding:10px 14px;overflow-wrap:anywhere}
a{color:#1f4e95}
"#;

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let f = page.figures;
    let mut h = String::with_capacity(64 * 1024);
    let title = format!("Course load {}", f.run_date);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        escape(&title)
    );
    header(&mut h, page);
    if f.error.is_some() || f.error_message.is_some() {
        let _ = write!(
            h,
            "<h2>Why it failed</h2><div class=\"error\" id=\"error\"><strong>{}</strong>{}<p>{}</p></div>",
            escape(f.error.as_deref().unwrap_or("The run failed")),
            f.failed_state
                .as_deref()
                .map(|s| format!(" in “{}”", escape(s)))
                .unwrap_or_default(),
            escape(f.error_message.as_deref().unwrap_or("")),
        );
    }
    counts(&mut h, f);
    charts(&mut h, page);
    timings(&mut h, f);
    rejects(&mut h, page);
    rollovers(&mut h, page);
    files(&mut h, page);
    let _ = writeln!(
        h,
        "<p class=\"muted\">Made {} at the end of the run.</p></main></body></html>",
        page.made_at.format("%Y-%m-%d %H:%M UTC")
    );
    h
}

fn header(h: &mut String, page: &Page<'_>) {
    let f = page.figures;
    let (class, status) = match f.status {
        Some(RunStatus::Succeeded) => ("succeeded", "Succeeded"),
        Some(RunStatus::Failed) => ("failed", "Failed"),
        None => ("dry", "Unknown"),
    };
    let _ = write!(
        h,
        "<h1>Course load for {}</h1><p><span class=\"status {class}\" id=\"status\">{status}</span>",
        f.run_date.format("%A %-d %B %Y")
    );
    if f.dry_run {
        h.push_str(" <span class=\"status dry\">Dry run: nothing pushed or mailed</span>");
    }
    if let Some(minutes) = f.run_minutes() {
        let _ = write!(
            h,
            " <span class=\"muted\">in {}</span>",
            duration(minutes * 60.0)
        );
    }
    if let Some(name) = &f.execution_name {
        let _ = write!(
            h,
            " <span class=\"muted\">· execution {}</span>",
            escape(name)
        );
    }
    if let Some(url) = page.execution_url.and_then(href) {
        let _ = write!(h, " · <a href=\"{url}\">the execution in the console</a>");
    }
    h.push_str("</p>");
}

fn card(h: &mut String, id: &str, label: &str, value: &str, note: Option<&str>) {
    // Words and file names in a smaller size than numbers, so they fit a card.
    let (class, value) = if value.chars().any(|c| c.is_ascii_alphabetic()) {
        // Break COMPLETED_SUCCESS and file names at their joints, not anywhere.
        let joints = escape(value).replace('_', "_<wbr>").replace('.', "<wbr>.");
        ("value text", joints)
    } else {
        ("value", escape(value))
    };
    let _ = write!(
        h,
        "<div class=\"card\" id=\"{id}\"><div class=\"label\">{}</div><div class=\"{class}\">{value}</div>{}</div>",
        escape(label),
        note.map(|n| format!("<div class=\"note\">{}</div>", escape(n)))
            .unwrap_or_default()
    );
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_string(), thousands)
}

fn counts(h: &mut String, f: &DayFigures) {
    h.push_str("<h2>Counts</h2><div class=\"cards\">");
    card(h, "rows-read", "Rows read", &count(f.rows_read), None);
    let load = f.load.as_ref().map(|l| l.to_string());
    card(
        h,
        "courses-written",
        "Courses written",
        &count(f.courses_written),
        load.as_deref(),
    );
    card(
        h,
        "deletes-sent",
        "Deletes sent",
        &count(f.deletes_sent),
        None,
    );
    card(
        h,
        "deletes-suppressed",
        "Deletes suppressed",
        &count(f.deletes_suppressed),
        Some("the course has reading lists"),
    );
    card(h, "rejects", "Rows rejected", &count(f.rejected), None);
    card(h, "warnings", "Warnings", &count(f.warnings), None);
    card(h, "alma-calls", "Alma calls", &count(f.alma_calls), None);
    let job = f.alma_job_minutes.map(|m| duration(m * 60.0));
    card(
        h,
        "alma-job",
        "Alma's job",
        f.alma_job_status.as_deref().unwrap_or("–"),
        job.as_deref(),
    );
    if let Some(r) = f.rollovers {
        card(
            h,
            "rollovers",
            "Rollovers found",
            &thousands(r.found),
            Some(&format!(
                "not found {}, ambiguous {}",
                thousands(r.not_found),
                thousands(r.ambiguous)
            )),
        );
    } else {
        card(h, "rollovers", "Rollovers found", "–", None);
    }
    card(
        h,
        "file-pushed",
        "File pushed",
        f.file_pushed.as_deref().unwrap_or("none"),
        None,
    );
    h.push_str("</div>");
}

type Series = fn(&DayFigures) -> Option<f64>;

const CHARTS: [(&str, &str, &str, Series); 6] = [
    ("chart-courses", "Courses written", "courses", |f| {
        f.courses_written.map(|n| n as f64)
    }),
    ("chart-deletes", "Deletes sent", "deletes", |f| {
        f.deletes_sent.map(|n| n as f64)
    }),
    ("chart-rejects", "Rows rejected", "rows", |f| {
        f.rejected.map(|n| n as f64)
    }),
    ("chart-alma-calls", "Alma calls", "calls", |f| {
        f.alma_calls.map(|n| n as f64)
    }),
    ("chart-job-minutes", "Alma job minutes", "minutes", |f| {
        f.alma_job_minutes
    }),
    ("chart-run-minutes", "Run minutes", "minutes", |f| {
        f.run_minutes()
    }),
];

fn charts(h: &mut String, page: &Page<'_>) {
    let _ = write!(
        h,
        "<h2>The last {} days</h2><div class=\"charts\">",
        chart::DAYS
    );
    for (id, title, unit, series) in CHARTS {
        let points: Vec<(NaiveDate, f64)> = page
            .history
            .iter()
            .filter_map(|f| series(f).map(|v| (f.run_date, v)))
            .collect();
        let _ = write!(
            h,
            "<figure id=\"{id}\"><figcaption>{}</figcaption>{}</figure>",
            escape(title),
            chart::bars(title, unit, page.figures.run_date, &points).into_string()
        );
    }
    h.push_str("</div>");
}

fn timings(h: &mut String, f: &DayFigures) {
    if f.timings.is_empty() {
        return;
    }
    h.push_str("<h2>Timings</h2><div class=\"table\"><table id=\"timings\"><thead><tr><th>Stage</th><th>At (UTC)</th><th>Took</th></tr></thead><tbody>");
    for t in &f.timings {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&t.stage),
            t.at.map(|a| a.format("%H:%M:%S").to_string())
                .unwrap_or_default(),
            t.seconds.map(duration).unwrap_or_default()
        );
    }
    h.push_str("</tbody></table></div>");
}

fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

fn rejects(h: &mut String, page: &Page<'_>) {
    let _ = write!(
        h,
        "<h2>Rejected rows ({})</h2>",
        thousands(page.rejects_total)
    );
    if page.rejects.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    h.push_str("<div class=\"table\"><table id=\"rejects\"><thead><tr><th>Line</th><th>Course code</th><th>Column</th><th>Reason</th></tr></thead><tbody>");
    for r in page.rejects {
        let _ = write!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.line,
            escape(&r.course_code),
            escape(&r.column),
            escape(&r.reason)
        );
    }
    h.push_str("</tbody></table></div>");
    more(h, page.rejects.len(), page.rejects_total, "rejects.csv");
}

fn rollovers(h: &mut String, page: &Page<'_>) {
    let _ = write!(
        h,
        "<h2>Rollover rows ({})</h2>",
        thousands(page.rollover_total)
    );
    if page.rollover_rows.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    h.push_str("<div class=\"table\"><table id=\"rollovers\"><thead><tr><th>Course code</th><th>Section</th><th>Title</th><th>Copied from</th><th>Its section</th></tr></thead><tbody>");
    for r in page.rollover_rows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.course_code),
            escape(&r.section_id),
            escape(&r.title),
            escape(&r.old_course_code),
            escape(&r.old_section_id)
        );
    }
    h.push_str("</tbody></table></div>");
    more(
        h,
        page.rollover_rows.len(),
        page.rollover_total,
        "the rollover report",
    );
}

fn more(h: &mut String, shown: usize, total: u64, whole: &str) {
    if (shown as u64) < total {
        let _ = write!(
            h,
            "<p class=\"muted\">The first {} of {}; all of them are in {}.</p>",
            thousands(shown as u64),
            thousands(total),
            escape(whole)
        );
    }
}

fn files(h: &mut String, page: &Page<'_>) {
    h.push_str("<h2>The day's files</h2>");
    if page.files.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    h.push_str("<div class=\"table\"><table id=\"files\"><thead><tr><th>File</th><th>Size</th><th>S3 console</th></tr></thead><tbody>");
    for file in page.files {
        let name = href(&file.relative)
            .map(|url| format!("<a href=\"{url}\">{}</a>", escape(&file.key)))
            .unwrap_or_else(|| escape(&file.key));
        let console = file
            .console
            .as_deref()
            .and_then(href)
            .map(|url| format!("<a href=\"{url}\">open</a>"))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{name}</td><td class=\"n\">{}</td><td>{console}</td></tr>",
            size(file.size)
        );
    }
    h.push_str("</tbody></table></div>");
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / 1024.0 / 1024.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::figures::Timing;

    const HOSTILE: &str = r#"<script>alert('x')</script>"onmouseover="x" & <img src=x>"#;

    fn figures() -> DayFigures {
        let mut f: DayFigures =
            serde_json::from_value(serde_json::json!({"run_date": "2026-11-28"})).unwrap();
        f.status = Some(RunStatus::Failed);
        f.courses_written = Some(11562);
        f.failed_state = Some(HOSTILE.into());
        f.error = Some("InvalidInput".into());
        f.error_message = Some(HOSTILE.into());
        f.execution_name = Some(HOSTILE.into());
        f.alma_job_status = Some(HOSTILE.into());
        f.timings = vec![Timing {
            stage: "Transform the export".into(),
            at: None,
            seconds: Some(90.0),
        }];
        f
    }

    fn render_with(f: &DayFigures, execution_url: Option<&str>) -> String {
        let rejects = [RejectRow {
            line: 7,
            course_code: HOSTILE.into(),
            column: "COURSE_CODE".into(),
            reason: HOSTILE.into(),
        }];
        let rollover_rows = [RolloverRow {
            course_code: HOSTILE.into(),
            section_id: "1".into(),
            title: HOSTILE.into(),
            old_course_code: HOSTILE.into(),
            old_section_id: "2".into(),
        }];
        let files = [FileLink {
            key: "reports/2026/11/28/<b>.csv".into(),
            size: 2048,
            relative: "javascript:alert(1)".into(),
            console: Some(
                "https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=a&x=\"".into(),
            ),
        }];
        render(&Page {
            figures: f,
            history: std::slice::from_ref(f),
            rejects: &rejects,
            rejects_total: 3,
            rollover_rows: &rollover_rows,
            rollover_total: 1,
            files: &files,
            execution_url,
            made_at: "2026-11-28T18:00:00Z".parse().unwrap(),
        })
    }

    #[test]
    fn the_escaper_turns_every_markup_character_into_an_entity() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("Théorie 2026"), "Théorie 2026");
    }

    #[test]
    fn hostile_values_from_the_export_and_alma_never_become_markup() {
        let html = render_with(&figures(), Some("javascript:alert(2)"));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"));
        assert!(!html.contains("\"onmouseover"));
        assert!(
            !html.contains("javascript:"),
            "links may only be http(s) or relative"
        );
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("reports/2026/11/28/&lt;b&gt;.csv"));
        assert!(html.contains("prefix=a&amp;x=&quot;"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render_with(&figures(), Some("https://console.example/exec"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<link"));
        for fetching in ["<img", "<iframe", "<object", "<embed", "@import"] {
            assert!(!html.contains(fetching), "{fetching}");
        }
        assert!(!html.contains("url("), "no CSS fetches");
        assert!(html.contains("<style>"));
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 6);
    }

    #[test]
    fn the_page_shows_the_days_status_counts_tables_and_a_more_line() {
        let html = render_with(&figures(), None);
        assert!(html.contains("id=\"status\">Failed<"));
        assert!(html.contains(">11,562<"));
        assert!(html.contains("Rejected rows (3)"));
        assert!(html.contains("The first 1 of 3; all of them are in rejects.csv."));
        assert!(html.contains("<td class=\"n\">1.5 min</td>"));
        assert!(html.contains("<td class=\"n\">2.0 KB</td>"));
    }
}
