//! The next day's export, made by editing a day's: a few courses changed the way a real
//! next day changes them, so a delta load has something to send. One code in `every`
//! (first-seen order) is edited, in turn: its title, its instructor, DENIED (when all its
//! rows were APPROVED or COMPLETED; else its title), or a new course beside it (a copy of
//! its first row under a new code). Bytes outside the edited cells are kept as they were
//! (the export's Windows-1252 included).

use std::collections::{BTreeSet, HashMap};

use csv::{ByteRecord, ReaderBuilder, WriterBuilder};

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
    #[error("the export has no {0} column")]
    Column(&'static str),
    #[error("cannot write the edited export")]
    Write(#[source] std::io::Error),
}

fn column(headers: &ByteRecord, name: &'static str) -> Result<usize, EditError> {
    headers
        .iter()
        .position(|h| h == name.as_bytes())
        .ok_or(EditError::Column(name))
}

fn with(record: &ByteRecord, at: usize, value: &[u8]) -> ByteRecord {
    record
        .iter()
        .enumerate()
        .map(|(i, f)| if i == at { value } else { f })
        .collect()
}

/// Edits one code in `every` of `export` (every ≥ 1; 50 changes about 2% of the courses).
pub fn next_day(export: &[u8], every: usize) -> Result<EditedDay, EditError> {
    let every = every.max(1);
    let mut reader = ReaderBuilder::new().flexible(true).from_reader(export);
    let headers = reader.byte_headers()?.clone();
    let code_at = column(&headers, "MYASU_COURSE_IDSTRING")?;
    let status_at = column(&headers, "COURSE_STATUS")?;
    let title_at = column(&headers, "COURSE_NAME")?;
    let who_at = column(&headers, "ASURITEID")?;
    let records: Vec<ByteRecord> = reader.byte_records().collect::<Result<_, _>>()?;

    let code_of = |r: &ByteRecord| String::from_utf8_lossy(r.get(code_at).unwrap_or_default()).trim().to_string();
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
        let all_active = rows.iter().all(|&i| {
            matches!(
                records[i].get(status_at).unwrap_or_default(),
                b"APPROVED" | b"COMPLETED"
            )
        });
        match (n / every) % 4 {
            1 => {
                let who = format!("nx{n}");
                for &i in rows {
                    out[i] = with(&out[i], who_at, who.as_bytes());
                }
                changed_codes.insert(code.clone());
            }
            2 if all_active => {
                for &i in rows {
                    out[i] = with(&out[i], status_at, b"DENIED");
                }
                changed_codes.insert(code.clone());
            }
            3 => {
                let new_code = format!("{code}{n}");
                let first = with(&records[rows[0]], code_at, new_code.as_bytes());
                added.push(with(&first, status_at, b"APPROVED"));
                changed_codes.insert(new_code);
            }
            _ => {
                for &i in rows {
                    let mut title = out[i].get(title_at).unwrap_or_default().to_vec();
                    title.extend_from_slice(b" II");
                    out[i] = with(&out[i], title_at, &title);
                }
                changed_codes.insert(code.clone());
            }
        }
    }

    let mut writer = WriterBuilder::new()
        .flexible(true)
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
        let export = b"MYASU_COURSE_IDSTRING,COURSE_STATUS,COURSE_NAME,ASURITEID\r\n\
            A,APPROVED,Alpha,a1\r\nB,APPROVED,Beta,b1\r\nC,COMPLETED,Gamma,c1\r\nD,APPROVED,Delta,d1\r\nA,APPROVED,Alpha,a2\r\n";
        let day = next_day(export, 1).unwrap();
        let text = String::from_utf8(day.export).unwrap();
        assert_eq!(
            text,
            "MYASU_COURSE_IDSTRING,COURSE_STATUS,COURSE_NAME,ASURITEID\r\n\
             A,APPROVED,Alpha II,a1\r\nB,APPROVED,Beta,nx1\r\nC,DENIED,Gamma,c1\r\nD,APPROVED,Delta,d1\r\nA,APPROVED,Alpha II,a2\r\n\
             D3,APPROVED,Delta,d1\r\n"
        );
        assert_eq!(
            day.changed_codes.into_iter().collect::<Vec<_>>(),
            ["A", "B", "C", "D3"]
        );
    }
}
