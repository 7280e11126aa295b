//! The next day's export, made by editing a day's: a few courses changed the way a real
//! next day changes them, so a delta load has something to send. One code in `every`
//! (first-seen order) is edited; of each ten edits, three change the title, three the
//! instructor, three add a new course beside it (a copy of its first row under a new
//! code) and one deletes it (the profile's first delete status, DENIED in CEM). Only a
//! course whose rows all have an active status (neither skipped nor deleting, APPROVED or
//! COMPLETED in CEM) gets a new title, instructor or status; any other gets a new course
//! beside it. (A real day deletes fewer: a semester's few hundred DENIED courses come a
//! handful a day.) Columns, separator and status words are the institution profile's.
//! Bytes outside the edited cells are kept as they were (the export's Windows-1252
//! included).

use std::collections::{BTreeSet, HashMap};

use csv::{ByteRecord, ReaderBuilder, WriterBuilder};
use leganto_shared::domain::{ExportProfile, Role, StatusMeaning};

/// The edited export and the course codes whose rows the edits changed or added.
#[derive(Debug, Clone)]
pub struct EditedDay {
    pub export: Vec<u8>,
    pub changed_codes: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the export cannot be read as CSV")]
    Csv(#[from] csv::Error),
    #[error("the export has no column {0}")]
    Column(String),
    #[error("the profile has no delete status to give a course")]
    NoDeleteStatus,
    #[error("the export has no row of an active status to copy")]
    NoActiveStatus,
    #[error("cannot write the edited export")]
    Write(#[source] std::io::Error),
}

fn column(headers: &ByteRecord, profile: &ExportProfile, role: Role) -> Result<usize, EditError> {
    let name = profile.header(role);
    headers
        .iter()
        .position(|h| h.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
        .ok_or_else(|| EditError::Column(format!("{name} ({})", role.key())))
}

fn with(record: &ByteRecord, at: usize, value: &[u8]) -> ByteRecord {
    record
        .iter()
        .enumerate()
        .map(|(i, f)| if i == at { value } else { f })
        .collect()
}

/// Edits one code in `every` of `export` (every ≥ 1; 50 changes about 2% of the courses),
/// an export of the shape `profile` describes.
pub fn next_day(
    export: &[u8],
    every: usize,
    profile: &ExportProfile,
) -> Result<EditedDay, EditError> {
    let every = every.max(1);
    let mut reader = ReaderBuilder::new()
        .flexible(true)
        .delimiter(profile.delimiter())
        .from_reader(export);
    let headers = reader.byte_headers()?.clone();
    let code_at = column(&headers, profile, Role::CourseCode)?;
    let status_at = column(&headers, profile, Role::Status)?;
    let title_at = column(&headers, profile, Role::Title)?;
    let who_at = column(&headers, profile, Role::Instructor)?;
    let records: Vec<ByteRecord> = reader.byte_records().collect::<Result<_, _>>()?;
    let status_of = |r: &ByteRecord| {
        let status = String::from_utf8_lossy(r.get(status_at).unwrap_or_default()).into_owned();
        (profile.status(status.trim()), status)
    };
    let delete = profile
        .delete_statuses()
        .next()
        .ok_or(EditError::NoDeleteStatus)?
        .to_owned();
    // A new course takes a status the export itself uses for active rows.
    let active = records
        .iter()
        .map(status_of)
        .find(|(meaning, _)| *meaning == StatusMeaning::Active)
        .ok_or(EditError::NoActiveStatus)?
        .1;

    let code_of = |r: &ByteRecord| {
        String::from_utf8_lossy(r.get(code_at).unwrap_or_default())
            .trim()
            .to_string()
    };
    let mut order: Vec<String> = Vec::new();
    let mut rows_of: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let code = code_of(r);
        if code.is_empty() {
            continue;
        }
        rows_of.entry(code.clone()).or_insert_with(|| {
            order.push(code.clone());
            Vec::new()
        });
        if let Some(rows) = rows_of.get_mut(&code) {
            rows.push(i);
        }
    }

    let mut out = records.clone();
    let mut added: Vec<ByteRecord> = Vec::new();
    let mut changed_codes = BTreeSet::new();
    for (n, code) in order.iter().enumerate().filter(|(n, _)| n % every == 0) {
        let rows = &rows_of[code];
        let all_active = rows
            .iter()
            .all(|&i| status_of(&records[i]).0 == StatusMeaning::Active);
        match ((n / every) % 10, all_active) {
            (1 | 4 | 7, true) => {
                let who = format!("nx{n}");
                for &i in rows {
                    out[i] = with(&out[i], who_at, who.as_bytes());
                }
                changed_codes.insert(code.clone());
            }
            (9, true) => {
                for &i in rows {
                    out[i] = with(&out[i], status_at, delete.as_bytes());
                }
                changed_codes.insert(code.clone());
            }
            (0 | 3 | 6, true) => {
                for &i in rows {
                    let mut title = out[i].get(title_at).unwrap_or_default().to_vec();
                    title.extend_from_slice(b" II");
                    out[i] = with(&out[i], title_at, &title);
                }
                changed_codes.insert(code.clone());
            }
            _ => {
                let new_code = format!("{code}{n}");
                let first = with(&records[rows[0]], code_at, new_code.as_bytes());
                added.push(with(&first, status_at, active.as_bytes()));
                changed_codes.insert(new_code);
            }
        }
    }

    let mut writer = WriterBuilder::new()
        .flexible(true)
        .delimiter(profile.delimiter())
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_byte_record(&headers)?;
    for r in out.iter().chain(&added) {
        writer.write_byte_record(r)?;
    }
    let export = writer
        .into_inner()
        .map_err(|e| EditError::Write(e.into_error()))?;
    Ok(EditedDay {
        export,
        changed_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_code_in_every_is_edited_each_way_in_turn() {
        let mut export =
            String::from("MYASU_COURSE_IDSTRING,COURSE_STATUS,COURSE_NAME,ASURITEID\r\n");
        for c in 0..10 {
            export.push_str(&format!("C{c},APPROVED,T{c},w{c}\r\n"));
        }
        // Two rows, one not active: a new course beside it instead of a new title.
        export.push_str("X,APPROVED,TX,wx\r\nX,DENIED,TX,wy\r\n");
        let day = next_day(export.as_bytes(), 1, &ExportProfile::default()).unwrap();
        let text = String::from_utf8(day.export).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            &lines[1..4],
            [
                "C0,APPROVED,T0 II,w0",
                "C1,APPROVED,T1,nx1",
                "C2,APPROVED,T2,w2"
            ]
        );
        assert_eq!(lines[10], "C9,DENIED,T9,w9");
        assert_eq!(&lines[11..13], ["X,APPROVED,TX,wx", "X,DENIED,TX,wy"]);
        assert_eq!(
            &lines[13..],
            [
                "C22,APPROVED,T2,w2",
                "C55,APPROVED,T5,w5",
                "C88,APPROVED,T8,w8",
                "X10,APPROVED,TX,wx",
                ""
            ]
        );
        assert_eq!(
            day.changed_codes.into_iter().collect::<Vec<_>>(),
            ["C0", "C1", "C22", "C3", "C4", "C55", "C6", "C7", "C88", "C9", "X10"]
        );
    }
}
