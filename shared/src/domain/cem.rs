//! The CEM export reader: columns by header name, UTF-8 (with or without BOM) or
//! Windows-1252, RFC 4180 quoting, one borrowed row at a time.

use std::borrow::Cow;
use std::io::Read;

use serde::Serialize;

/// Columns the rules use, all required.
pub const REQUIRED_COLUMNS: [&str; 16] = [
    "MYASU_COURSE_IDSTRING",
    "COURSE_STATUS",
    "COURSE_NAME",
    "SLN",
    "ASURITEID",
    "COLLEGE_OR_DIVISION_CODE",
    "CAMPUS",
    "COURSE_ID",
    "TERM",
    "YEAR",
    "START_SYNC_DATE",
    "END_SYNC_DATE",
    "COPY_COURSE_SLN",
    "COPY_COURSE_SEMESTER_YEAR",
    "COPY_COURSE_ID",
    "COPY_COURSE_SEMESTER_TERM",
];

/// A used column, indexing [`CemRow::get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Col {
    Code = 0,
    Status,
    Name,
    Sln,
    Asurite,
    College,
    Campus,
    CourseId,
    Term,
    Year,
    StartSync,
    EndSync,
    CopySln,
    CopyYear,
    CopyCourseId,
    CopyTerm,
}

impl Col {
    pub fn header(self) -> &'static str {
        REQUIRED_COLUMNS[self as usize]
    }
}

/// The text encoding of an export, decided over the whole input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TextEncoding {
    Utf8,
    Windows1252,
}

/// Errors that stop the run: nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum CemError {
    #[error("the CEM export is empty: check the export job and pull the file again")]
    EmptyFile,
    #[error("the CEM export has a header but no data rows: check the export job")]
    NoDataRows,
    #[error("the CEM export lacks required column(s) {}: check the export's header row", .0.join(", "))]
    MissingColumns(Vec<String>),
    #[error("the CEM export is not text (NUL byte at offset {offset}): is this the right file?")]
    NotText { offset: u64 },
    #[error("cannot read the CEM export: {0}")]
    Io(#[source] std::io::Error),
    #[error("cannot parse the CEM export as CSV: {0}")]
    Csv(#[source] csv::Error),
}

/// Decides the encoding over the whole input: valid UTF-8 → UTF-8, else Windows-1252.
/// Also catches empty and binary input. Reads `input` to its end.
pub fn detect_encoding<R: Read>(mut input: R) -> Result<TextEncoding, CemError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize; // an unfinished UTF-8 sequence kept at the start of buf
    let mut offset = 0u64;
    let mut utf8 = true;
    let mut seen_text = false;
    loop {
        let n = match input.read(&mut buf[carry..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CemError::Io(e)),
        };
        let end = carry + n;
        let fresh = &buf[carry..end];
        // `contains` is memchr-fast; find the offset only when there is one.
        if fresh.contains(&0) {
            let p = fresh.iter().position(|&b| b == 0).unwrap_or(0);
            return Err(CemError::NotText {
                offset: offset + p as u64,
            });
        }
        // A BOM alone is no content.
        seen_text = seen_text
            || fresh
                .iter()
                .any(|&b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
        offset += n as u64;
        carry = 0;
        if utf8 {
            match std::str::from_utf8(&buf[..end]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    buf.copy_within(e.valid_up_to()..end, 0);
                    carry = end - e.valid_up_to();
                }
                Err(_) => utf8 = false,
            }
        }
    }
    if carry > 0 {
        utf8 = false;
    }
    if !seen_text {
        return Err(CemError::EmptyFile);
    }
    Ok(if utf8 {
        TextEncoding::Utf8
    } else {
        TextEncoding::Windows1252
    })
}

/// A bad row: never transformed, always reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowReject {
    pub line: u64,
    pub course_code: String,
    pub column: Option<&'static str>,
    pub reason: String,
}

/// One data row, fields decoded and trimmed, borrowed from the reader's buffer.
pub struct CemRow<'a> {
    pub line: u64,
    /// Set when the row was two physical lines joined across an unquoted line break: the
    /// second line's number.
    pub joined_with: Option<u64>,
    fields: [Cow<'a, str>; 16],
}

impl CemRow<'_> {
    pub fn get(&self, col: Col) -> &str {
        self.fields[col as usize].trim()
    }
}

/// What the reader hands out.
// The row lives on the stack for one step and is never stored: boxing it would cost an
// allocation per row.
#[allow(clippy::large_enum_variant)]
pub enum Read1<'a> {
    Row(CemRow<'a>),
    Bad(RowReject),
}

/// Streams rows of a CEM export.
///
/// A physical line with fewer fields than the header is usually a row broken by a line
/// break left unquoted (SQL Server flat-file exports do this with titles). When that line
/// and the next, also short, give exactly the header's count together, they are one row:
/// the last field of the first and the first of the second are joined with a space.
/// Otherwise the short line is rejected, and so is the next if it is short too (the other
/// part); a next line of full width is a row of its own.
pub struct CemReader<R: Read> {
    csv: csv::Reader<R>,
    index: [usize; 16],
    width: usize,
    encoding: TextEncoding,
    record: csv::ByteRecord,
    /// `record` holds a line read ahead, not yet handed out.
    pending: bool,
    /// The line read ahead of a short one.
    next: csv::ByteRecord,
    /// Two short lines joined.
    joined: csv::ByteRecord,
    /// `record` is the second part of a broken row that could not be joined: reject it
    /// without trying to join it with the line after.
    part: bool,
}

impl<R: Read> CemReader<R> {
    /// Reads the header and the first data row; fails on missing columns or no data rows.
    pub fn new(input: R, encoding: TextEncoding) -> Result<CemReader<R>, CemError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(input);
        let mut header = csv::ByteRecord::new();
        if !csv.read_byte_record(&mut header).map_err(CemError::Csv)? {
            return Err(CemError::EmptyFile);
        }
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let s = decode(f, encoding);
                let s = if i == 0 {
                    s.trim_start_matches('\u{feff}')
                } else {
                    &s
                };
                s.trim().to_ascii_uppercase()
            })
            .collect();
        let mut index = [0usize; 16];
        let mut missing = Vec::new();
        for (slot, want) in index.iter_mut().zip(REQUIRED_COLUMNS) {
            match names.iter().position(|n| n == want) {
                Some(i) => *slot = i,
                None => missing.push(want.to_owned()),
            }
        }
        if !missing.is_empty() {
            return Err(CemError::MissingColumns(missing));
        }
        let mut record = csv::ByteRecord::new();
        if !csv.read_byte_record(&mut record).map_err(CemError::Csv)? {
            return Err(CemError::NoDataRows);
        }
        Ok(CemReader {
            csv,
            index,
            width: header.len(),
            encoding,
            record,
            pending: true,
            next: csv::ByteRecord::new(),
            joined: csv::ByteRecord::new(),
            part: false,
        })
    }

    /// The next row, or `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<Read1<'_>>, CemError> {
        if self.pending {
            self.pending = false;
        } else if !self
            .csv
            .read_byte_record(&mut self.record)
            .map_err(CemError::Csv)?
        {
            return Ok(None);
        }
        let line = line_of(&self.record);
        let part = std::mem::take(&mut self.part);
        if self.record.len() < self.width
            && !part
            && self
                .csv
                .read_byte_record(&mut self.next)
                .map_err(CemError::Csv)?
        {
            let next_line = line_of(&self.next);
            // A next line of full width is a row of its own, never the end of a broken
            // one: joined to a stray fragment, a good row would be spoiled.
            if self.next.len() < self.width && self.record.len() + self.next.len() - 1 == self.width
            {
                join(&self.record, &self.next, &mut self.joined);
                let fields = self.fields(&self.joined);
                return Ok(Some(Read1::Row(CemRow {
                    line,
                    joined_with: Some(next_line),
                    fields,
                })));
            }
            let reject = self.field_count_reject(&self.record, line);
            // The next line is handed out on the next call; if it is short, it is the other
            // part of this row.
            std::mem::swap(&mut self.record, &mut self.next);
            self.pending = true;
            self.part = self.record.len() < self.width;
            return Ok(Some(Read1::Bad(reject)));
        }
        if self.record.len() != self.width {
            return Ok(Some(Read1::Bad(
                self.field_count_reject(&self.record, line),
            )));
        }
        let fields = self.fields(&self.record);
        Ok(Some(Read1::Row(CemRow {
            line,
            joined_with: None,
            fields,
        })))
    }

    /// The used columns of `rec`, decoded.
    fn fields<'r>(&self, rec: &'r csv::ByteRecord) -> [Cow<'r, str>; 16] {
        let enc = self.encoding;
        std::array::from_fn(|k| {
            rec.get(self.index[k])
                .map_or(Cow::Borrowed(""), |f| decode(f, enc))
        })
    }

    fn field_count_reject(&self, rec: &csv::ByteRecord, line: u64) -> RowReject {
        let code = rec
            .get(self.index[Col::Code as usize])
            .map_or(Cow::Borrowed(""), |f| decode(f, self.encoding));
        RowReject {
            line,
            course_code: code.trim().to_owned(),
            column: None,
            reason: format!("expected {} fields, found {}", self.width, rec.len()),
        }
    }
}

/// The physical line a record starts on (the header is line 1).
fn line_of(rec: &csv::ByteRecord) -> u64 {
    // csv counts the line the previous record ended on; the row starts one later.
    rec.position().map_or(0, |p| p.line() + 1)
}

/// `first` and `second` as one record: the break between them becomes a space inside the
/// field it split.
fn join(first: &csv::ByteRecord, second: &csv::ByteRecord, out: &mut csv::ByteRecord) {
    out.clear();
    let last = first.len().saturating_sub(1);
    for f in first.iter().take(last) {
        out.push_field(f);
    }
    let mut split = Vec::with_capacity(64);
    split.extend_from_slice(first.get(last).unwrap_or_default());
    split.push(b' ');
    split.extend_from_slice(second.get(0).unwrap_or_default());
    out.push_field(&split);
    for f in second.iter().skip(1) {
        out.push_field(f);
    }
}

fn decode(bytes: &[u8], encoding: TextEncoding) -> Cow<'_, str> {
    match encoding {
        // Validated over the whole input already; lossy only guards against a changed file.
        TextEncoding::Utf8 => String::from_utf8_lossy(bytes),
        TextEncoding::Windows1252 => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}
