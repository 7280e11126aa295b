//! The course loader file in the layout Alma's loader requires: 34 tab-separated columns,
//! UTF-8 without BOM, CRLF, no quoting; tabs, CR and LF inside values become spaces.

use std::io::{self, Write};

use super::course::{Course, Operation, F};
use super::rules::Rules;

pub const LOADER_COLUMNS: [&str; 34] = [
    "Course Code",
    "Course Title",
    "Section ID",
    "Academic Department",
    "Processing Department",
    "Term1",
    "Term2",
    "Term3",
    "Term4",
    "Start Date",
    "End Date",
    "Number of Participants",
    "Weekly Hours",
    "Year",
    "Searchable ID 1",
    "Searchable ID 2",
    "ALL_SEARCHABLE_IDS",
    "Instructor 1",
    "Instructor 2",
    "Instructor 3",
    "Instructor 4",
    "Instructor 5",
    "Instructor 6",
    "Instructor 7",
    "Instructor 8",
    "Instructor 9",
    "Instructor 10",
    "ALL_INSTRUCTORS",
    "Operation",
    "Old Course Code",
    "Old Course Section ID",
    "Submit Lists By",
    "Campus and Campus Participants",
    "Reading List Name",
];

/// The loader file's name for a run time: `YYYYMMDDHHMMSS.txt`.
pub fn loader_file_name<Tz: chrono::TimeZone>(run_time: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!("{}.txt", run_time.format("%Y%m%d%H%M%S"))
}

/// Writes loader rows.
pub struct LoaderWriter<'r, W: Write> {
    out: W,
    rules: &'r Rules,
    /// Formatted dates: a day has few distinct ones, and formatting showed in profiles.
    dates: rustc_hash::FxHashMap<chrono::NaiveDate, Box<str>>,
    line: Vec<u8>,
}

impl<'r, W: Write> LoaderWriter<'r, W> {
    /// Starts the file with its header row. Wrap `out` in a `BufWriter` for files.
    pub fn new(mut out: W, rules: &'r Rules) -> io::Result<Self> {
        out.write_all(LOADER_COLUMNS.join("\t").as_bytes())?;
        out.write_all(b"\r\n")?;
        Ok(LoaderWriter {
            out,
            rules,
            dates: rustc_hash::FxHashMap::default(),
            line: Vec::with_capacity(512),
        })
    }

    /// One row; `rollover` = (old course code, old section) makes it a ROLLOVER row.
    pub fn write(&mut self, c: &Course, rollover: Option<(&str, &str)>) -> io::Result<()> {
        self.format_dates(c);
        let rules = self.rules;
        let start = self.dates.get(&c.start).map_or("", |s| s);
        let end = self.dates.get(&c.end).map_or("", |s| s);
        let (old_code, old_section) = rollover.unwrap_or(("", ""));
        let department = rules.name(c.processing_department);
        let term1 = c.term1.map_or("", |t| rules.name(t));
        let added = [department, term1, start, end, old_code, old_section];
        let fields = loader_fields(c, operation(c, rollover), added);
        // Rare: one branch-free (vectorized) test over the course's text and the rest, the
        // field-by-field rewrite only when it finds a break.
        let breaks = has_break(c.all_text()) || added.iter().any(|f| has_break(f));
        join_fields(&mut self.line, &fields, breaks);
        self.out.write_all(&self.line)
    }

    /// The course's start and end dates, formatted once a day each.
    #[inline]
    fn format_dates(&mut self, c: &Course) {
        let rules = self.rules;
        for d in [c.start, c.end] {
            self.dates
                .entry(d)
                .or_insert_with(|| rules.format_date(d).to_string().into());
        }
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A tab, CR or LF: each would break the loader file's layout.
const fn is_break(b: u8) -> bool {
    matches!(b, b'\t' | b'\r' | b'\n')
}

fn has_break(text: &str) -> bool {
    text.bytes().fold(false, |seen, b| seen | is_break(b))
}

/// The Operation column: ROLLOVER for a rollover, else DELETE or empty.
#[inline]
fn operation(c: &Course, rollover: Option<(&str, &str)>) -> &'static str {
    match (rollover, c.operation) {
        (Some(_), _) => "ROLLOVER",
        (None, Operation::Delete) => "DELETE",
        (None, Operation::Active) => "",
    }
}

/// The 34 columns of a course's row: its own text, its `operation`, and what the writer
/// `added` (department, term, dates, the rollover's old code and section).
#[inline]
fn loader_fields<'a>(c: &'a Course, operation: &'a str, added: [&'a str; 6]) -> [&'a str; 34] {
    let [department, term1, start, end, old_code, old_section] = added;
    [
        c.get(F::Code),
        c.get(F::Title),
        c.get(F::Section),
        c.get(F::AcademicDepartment),
        department,
        term1,
        "",
        "",
        "",
        start,
        end,
        "",
        "",
        c.get(F::Year),
        c.get(F::SearchableId1),
        "",
        c.get(F::AllSearchableIds),
        c.get(F::Instructor1),
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        c.get(F::AllInstructors),
        operation,
        old_code,
        old_section,
        "",
        "",
        "",
    ]
}

/// `fields` into `line`, tab-separated and CRLF-ended; with `breaks`, each tab, CR or LF in
/// a field becomes a space.
#[inline]
fn join_fields(line: &mut Vec<u8>, fields: &[&str; 34], breaks: bool) {
    line.clear();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(b'\t');
        }
        let from = line.len();
        line.extend_from_slice(f.as_bytes());
        if breaks {
            for b in &mut line[from..] {
                if is_break(*b) {
                    *b = b' ';
                }
            }
        }
    }
    line.extend_from_slice(b"\r\n");
}
