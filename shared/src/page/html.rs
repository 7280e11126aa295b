//! The day page as one self-contained HTML file: inline CSS and SVG, no script, no request
//! to anywhere.
//!
//! Written with maud (`html!`) rather than templates in files (askama): the page is made
//! from Rust values with loops and conditionals, which maud checks when the crate compiles;
//! every interpolated value is escaped by construction, so a value from the export, Alma or
//! an error message cannot become markup, and raw text is only what is marked `PreEscaped`
//! (the page's own CSS, nothing else); there are no template files to ship in the Lambda
//! package; and it adds little to the build or the binary. Each section of the page is a
//! function of its own that returns `Markup`.

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::chart;
use crate::run::report::{thousands, DayReport, RunStatus};

/// A URL for an `href`: only http(s) and relative links; anything else is dropped.
fn href(url: &str) -> Option<&str> {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s);
    match scheme {
        Some("http" | "https") | None => Some(url),
        Some(s) if s.contains('/') || s.contains('?') || s.contains('#') => Some(url),
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
    pub figures: &'a DayReport,
    /// Up to 42 days ending at the run date (this day's own figures included).
    pub history: &'a [DayReport],
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
.notice{background:#fff8e6;border:1px solid #f0d48a;border-radius:8px;padding:10px 14px;overflow-wrap:anywhere}.notice ul{margin:0;padding-left:20px}
a{color:#1f4e95}
"#;

/// The whole page.
pub fn render(page: &Page<'_>) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(page.figures))
            body {
                main {
                    (header(page))
                    (rules(page.figures))
                    (failure(page.figures))
                    (terms_missing(page.figures))
                    (counts(page.figures))
                    (charts(page))
                    (timings(page.figures))
                    (rejects(page))
                    (rollovers(page))
                    (rollover_ledger(page.figures))
                    (files(page))
                    (footer(page))
                }
            }
        }
    };
    let mut text = markup.into_string();
    // A text file ends with a newline.
    text.push('\n');
    text
}

fn head(f: &DayReport) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // Nothing fetched from anywhere: inline styles, images only as data: URLs.
            meta http-equiv="Content-Security-Policy"
                content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
            title { "Course load " (f.run_date) }
            // Our own constant: escaping would break its quoted font names.
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// The run date, how the run ended, how long it took and which execution it was.
fn header(page: &Page<'_>) -> Markup {
    let f = page.figures;
    let (class, status) = match f.status {
        Some(RunStatus::Succeeded) => ("succeeded", "Succeeded"),
        Some(RunStatus::Failed) => ("failed", "Failed"),
        None => ("dry", "Unknown"),
    };
    html! {
        h1 { "Course load for " (f.run_date.format("%A %-d %B %Y")) }
        p {
            span class={ "status " (class) } id="status" { (status) }
            @if f.dry_run {
                " " span.status.dry { "Dry run: nothing pushed or mailed" }
            }
            @if let Some(minutes) = f.run_minutes() {
                " " span.muted { "in " (duration(minutes * 60.0)) }
            }
            @if let Some(name) = &f.execution_name {
                " " span.muted { "· execution " (name) }
            }
            @if let Some(url) = page.execution_url.and_then(href) {
                " · " a href=(url) { "the execution in the console" }
            }
        }
    }
}

/// Which institution rules the day followed, so a change of results can be matched with
/// a change of rules (`leganto rules show`).
fn rules(f: &DayReport) -> Markup {
    html! {
        @if let Some(rules) = &f.rules {
            p.muted #rules {
                "Rules: " (rules.to_string())
                @if let Some(report) = &f.report_rules {
                    "; the rollover report followed " (report.to_string())
                    " (rules were pushed between the transform and the report)"
                }
            }
        }
    }
}

/// Why a failed run failed: the error, the state it failed in and the message.
fn failure(f: &DayReport) -> Markup {
    html! {
        @if f.error.is_some() || f.error_message.is_some() {
            h2 { "Why it failed" }
            div.error #error {
                strong { (f.error.as_deref().unwrap_or("The run failed")) }
                @if let Some(state) = &f.failed_state {
                    " in “" (state) "”"
                }
                p { (f.error_message.as_deref().unwrap_or("")) }
            }
        }
    }
}

/// The expected terms the day's export lacks (term coverage): above the counts, since the
/// fix (the export's query) is for people outside the library's reach and takes time.
fn terms_missing(f: &DayReport) -> Markup {
    let missing = &f.notes.terms_missing;
    html! {
        @if !missing.is_empty() {
            h2 { "Terms missing from the export" }
            div.notice #terms-missing {
                ul {
                    @for sentence in missing {
                        li { (sentence) }
                    }
                }
            }
        }
    }
}

/// What became of the approved rollovers (course-loading.md §10): sent, skipped, waiting,
/// confirmed or failed, as Slack and the e-mail say it.
fn rollover_ledger(f: &DayReport) -> Markup {
    let sentences = f.notes.rollover_sentences();
    html! {
        @if !sentences.is_empty() {
            h2 { "Approved rollovers" }
            ul #rollover-ledger {
                @for sentence in &sentences {
                    li { (sentence) }
                }
            }
        }
    }
}

fn card(id: &str, label: &str, value: &str, note: Option<&str>) -> Markup {
    // Words and file names in a smaller size than numbers, so they fit a card.
    let words = value.chars().any(|c| c.is_ascii_alphabetic());
    html! {
        div.card id=(id) {
            div.label { (label) }
            @if words {
                div.value.text { (with_joints(value)) }
            } @else {
                div.value { (value) }
            }
            @if let Some(note) = note {
                div.note { (note) }
            }
        }
    }
}

/// Breaks COMPLETED_SUCCESS and file names at their joints (after `_`, before `.`), not
/// anywhere.
fn with_joints(text: &str) -> Markup {
    html! {
        @for c in text.chars() {
            @if c == '.' { wbr; }
            (c)
            @if c == '_' { wbr; }
        }
    }
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_string(), thousands)
}

fn counts(f: &DayReport) -> Markup {
    let load = f.load.as_ref().map(|l| l.to_string());
    let job_status = f.alma_job_status.as_deref().unwrap_or("–");
    let job_note = alma_job_note(f);
    let pushed = f.file_pushed.as_deref().unwrap_or("none");
    html! {
        h2 { "Counts" }
        div.cards {
            (card("rows-read", "Rows read", &count(f.rows_read), None))
            (card("courses-written", "Courses written", &count(f.courses_written), load.as_deref()))
            (card("deletes-sent", "Deletes sent", &count(f.deletes_sent), None))
            (card(
                "deletes-suppressed",
                "Deletes suppressed",
                &count(f.deletes_suppressed),
                Some("the course has reading lists"),
            ))
            (card("rejects", "Rows rejected", &count(f.rejected), None))
            (card("warnings", "Warnings", &count(f.warnings), None))
            (card("alma-calls", "Alma calls", &count(f.alma_calls), None))
            (card("alma-job", "Alma's job", job_status, job_note.as_deref()))
            (rollovers_card(f))
            (card("file-pushed", "File pushed", pushed, None))
        }
    }
}

/// How long Alma's job took and what it counted (`rows_read 1,742, errors 0`).
fn alma_job_note(f: &DayReport) -> Option<String> {
    let took = f.alma_job_minutes.map(|m| duration(m * 60.0));
    let counters = f.alma_job.as_ref().map(|job| {
        job.counters
            .iter()
            .map(|(name, n)| format!("{name} {}", thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let parts: Vec<String> = [took, counters]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn rollovers_card(f: &DayReport) -> Markup {
    match f.rollovers {
        Some(r) => {
            let note = format!(
                "not found {}, ambiguous {}",
                thousands(r.not_found),
                thousands(r.ambiguous)
            );
            card(
                "rollovers",
                "Rollovers found",
                &thousands(r.found),
                Some(&note),
            )
        }
        None => card("rollovers", "Rollovers found", "–", None),
    }
}

type Series = fn(&DayReport) -> Option<f64>;

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

fn charts(page: &Page<'_>) -> Markup {
    html! {
        h2 { "The last " (chart::DAYS) " days" }
        div.charts {
            @for (id, title, unit, series) in CHARTS {
                figure id=(id) {
                    figcaption { (title) }
                    (chart::bars(title, unit, page.figures.run_date, &points(page.history, series)))
                }
            }
        }
    }
}

/// The days of `history` that have a figure in `series`, as (date, value).
fn points(history: &[DayReport], series: Series) -> Vec<(NaiveDate, f64)> {
    history
        .iter()
        .filter_map(|f| series(f).map(|v| (f.run_date, v)))
        .collect()
}

/// A table in its scrolling box: `id`, a header row of `headings`, then `rows`.
fn table(id: &str, headings: &[&str], rows: Markup) -> Markup {
    html! {
        div.table {
            table id=(id) {
                thead {
                    tr {
                        @for heading in headings { th { (heading) } }
                    }
                }
                tbody { (rows) }
            }
        }
    }
}

fn timings(f: &DayReport) -> Markup {
    if f.timings.is_empty() {
        return html! {};
    }
    let rows = html! {
        @for t in &f.timings {
            tr {
                td { (t.stage) }
                td { @if let Some(at) = t.at { (at.format("%H:%M:%S")) } }
                td.n { @if let Some(seconds) = t.seconds { (duration(seconds)) } }
            }
        }
    };
    html! {
        h2 { "Timings" }
        (table("timings", &["Stage", "At (UTC)", "Took"], rows))
    }
}

fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

fn none() -> Markup {
    html! { p.muted { "None." } }
}

fn rejects(page: &Page<'_>) -> Markup {
    let heading = html! { h2 { "Rejected rows (" (thousands(page.rejects_total)) ")" } };
    if page.rejects.is_empty() {
        return html! { (heading) (none()) };
    }
    let rows = html! {
        @for r in page.rejects {
            tr {
                td.n { (r.line) }
                td { (r.course_code) }
                td { (r.column) }
                td { (r.reason) }
            }
        }
    };
    html! {
        (heading)
        (table("rejects", &["Line", "Course code", "Column", "Reason"], rows))
        (more(page.rejects.len(), page.rejects_total, "rejects.csv"))
    }
}

fn rollovers(page: &Page<'_>) -> Markup {
    let heading = html! { h2 { "Rollover rows (" (thousands(page.rollover_total)) ")" } };
    if page.rollover_rows.is_empty() {
        return html! { (heading) (none()) };
    }
    let rows = html! {
        @for r in page.rollover_rows {
            tr {
                td { (r.course_code) }
                td { (r.section_id) }
                td { (r.title) }
                td { (r.old_course_code) }
                td { (r.old_section_id) }
            }
        }
    };
    let headings = [
        "Course code",
        "Section",
        "Title",
        "Copied from",
        "Its section",
    ];
    html! {
        (heading)
        (table("rollovers", &headings, rows))
        (more(page.rollover_rows.len(), page.rollover_total, "the rollover report"))
    }
}

/// Says where the rest are when a table shows only the first rows.
fn more(shown: usize, total: u64, whole: &str) -> Markup {
    let shown = shown as u64;
    html! {
        @if shown < total {
            p.muted {
                "The first " (thousands(shown)) " of " (thousands(total))
                "; all of them are in " (whole) "."
            }
        }
    }
}

fn files(page: &Page<'_>) -> Markup {
    let heading = html! { h2 { "The day's files" } };
    if page.files.is_empty() {
        return html! { (heading) (none()) };
    }
    let rows = html! {
        @for file in page.files { (file_row(file)) }
    };
    html! {
        (heading)
        (table("files", &["File", "Size", "S3 console"], rows))
    }
}

/// The file's key, linked relative to the page, its size and its S3 console link.
fn file_row(file: &FileLink) -> Markup {
    let console = file.console.as_deref().and_then(href);
    html! {
        tr {
            td {
                @match href(&file.relative) {
                    Some(url) => a href=(url) { (file.key) },
                    None => (file.key),
                }
            }
            td.n { (size(file.size)) }
            td { @if let Some(url) = console { a href=(url) { "open" } } }
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / 1024.0 / 1024.0),
    }
}

fn footer(page: &Page<'_>) -> Markup {
    html! {
        p.muted { "Made " (page.made_at.format("%Y-%m-%d %H:%M UTC")) " at the end of the run." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::report::Timing;

    const HOSTILE: &str = r#"<script>alert('x')</script>"onmouseover="x" & <img src=x>"#;

    fn figures() -> DayReport {
        let mut f: DayReport =
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

    fn render_with(f: &DayReport, execution_url: Option<&str>) -> String {
        let rejects = [RejectRow {
            line: 7,
            course_code: HOSTILE.into(),
            column: "COURSE_CODE".into(),
            reason: HOSTILE.into(),
        }];
        let files = [FileLink {
            key: "reports/2026/11/28/<b>.csv".into(),
            size: 2048,
            relative: "javascript:alert(1)".into(),
            console: Some(
                "https://us-west-2.console.aws.amazon.com/s3/object/b?prefix=a&x=\"".into(),
            ),
        }];
        render_page(f, &rejects, &files, execution_url)
    }

    fn render_page(
        f: &DayReport,
        rejects: &[RejectRow],
        files: &[FileLink],
        execution_url: Option<&str>,
    ) -> String {
        let rollover_rows = [RolloverRow {
            course_code: HOSTILE.into(),
            section_id: "1".into(),
            title: HOSTILE.into(),
            old_course_code: HOSTILE.into(),
            old_section_id: "2".into(),
        }];
        render(&Page {
            figures: f,
            history: std::slice::from_ref(f),
            rejects,
            rejects_total: 3,
            rollover_rows: &rollover_rows,
            rollover_total: 1,
            files,
            execution_url,
            made_at: "2026-11-28T18:00:00Z".parse().unwrap(),
        })
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
        // Quotes are entities where they could end an attribute; `'` never can (maud quotes
        // every attribute with `"`), so it stays as it is.
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;&quot;onmouseover"));
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

    #[test]
    fn a_script_ampersand_and_quotes_in_a_field_come_out_as_text_where_the_field_goes() {
        let nasty = r#"<script>alert("x") & 'y'</script>"#;
        let shown = "&lt;script&gt;alert(&quot;x&quot;) &amp; 'y'&lt;/script&gt;";
        let mut f = figures();
        f.error_message = Some(nasty.into());
        let rejects = [RejectRow {
            line: 3,
            course_code: "HIST_101".into(),
            column: "TITLE".into(),
            reason: nasty.into(),
        }];
        let files = [FileLink {
            key: format!("reports/{nasty}.csv"),
            size: 10,
            relative: "a&b \"c\".csv".into(),
            console: None,
        }];
        let html = render_page(&f, &rejects, &files, None);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains(&format!("<p>{shown}</p></div>")), "{html}");
        assert!(html.contains(&format!("<td>TITLE</td><td>{shown}</td></tr>")));
        assert!(html.contains(&format!(
            r#"<td><a href="a&amp;b &quot;c&quot;.csv">reports/{shown}.csv</a></td>"#
        )));
    }

    #[test]
    fn the_page_lists_the_terms_missing_from_the_export_only_when_there_are_some() {
        let mut f = figures();
        assert!(!render_with(&f, None).contains("terms-missing"));
        f.notes.terms_missing = vec![
            "the export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)"
                .into(),
            HOSTILE.into(),
        ];
        let html = render_with(&f, None);
        assert!(html.contains(
            "<h2>Terms missing from the export</h2><div class=\"notice\" id=\"terms-missing\"><ul>\
             <li>the export holds no course of term 1 2027, which starts 2027-01-12 (in 37 days)</li>"
        ), "{html}");
        assert!(!html.contains("<script"));
    }

    #[test]
    fn the_page_is_one_html_document_with_its_style_as_written() {
        let html = render_with(&figures(), None);
        assert!(html.starts_with(
            r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>Course load 2026-11-28</title>"#
        ), "{html}");
        assert!(html.contains(&format!("<style>{STYLE}</style></head><body><main><h1>")));
        assert!(html.ends_with(
            "<p class=\"muted\">Made 2026-11-28 18:00 UTC at the end of the run.</p></main></body></html>\n"
        ));
    }

    #[test]
    fn the_page_names_the_rules_the_day_followed() {
        use crate::run::rules::{RulesOrigin, RulesVersion};
        let mut f = figures();
        assert!(
            !render_with(&f, None).contains("id=\"rules\""),
            "none known"
        );
        let version = |origin, id: Option<&str>, sha: &str| RulesVersion {
            origin,
            location: (origin == RulesOrigin::S3).then(|| "config/rules.toml".to_string()),
            version_id: id.map(str::to_string),
            sha256: sha.repeat(64),
        };
        f.rules = Some(version(RulesOrigin::S3, Some("v<1>"), "a"));
        let html = render_with(&f, None);
        assert!(html.contains(
            "<p class=\"muted\" id=\"rules\">Rules: config/rules.toml version v&lt;1&gt; (sha256 aaaaaaaaaaaa…)</p>"
        ), "{html}");
        f.rules = Some(version(RulesOrigin::Shipped, None, "b"));
        f.report_rules = Some(version(RulesOrigin::S3, Some("v2"), "c"));
        let html = render_with(&f, None);
        assert!(html.contains("Rules: shipped rules (sha256 bbbbbbbbbbbb…); the rollover report followed config/rules.toml version v2 (sha256 cccccccccccc…)"), "{html}");
    }

    #[test]
    fn the_failure_cards_and_charts_keep_their_ids_and_classes() {
        let mut f = figures();
        f.failed_state = Some("Pull the CEM export".into());
        f.error = Some("SourceFileMissing".into());
        f.file_pushed = Some("leganto_courses_20261128.csv".into());
        let html = render_with(&f, None);
        assert!(html.contains(
            "<h2>Why it failed</h2><div class=\"error\" id=\"error\"><strong>SourceFileMissing</strong> in “Pull the CEM export”<p>"
        ), "{html}");
        assert!(html.contains(
            r#"<div class="card" id="courses-written"><div class="label">Courses written</div><div class="value">11,562</div></div>"#
        ));
        assert!(html.contains(
            r#"<div class="value text">leganto_<wbr>courses_<wbr>20261128<wbr>.csv</div>"#
        ));
        assert!(html.contains("<figure id=\"chart-courses\"><figcaption>Courses written</figcaption><svg class=\"chart\""));
        assert!(html.contains(r#"<table id="rejects"><thead><tr><th>Line</th>"#));
    }
}
