//! The export reader: columns by header name, each found once, at the header, by the role
//! the institution profile ([`ExportProfile`]) gives it; fields split on the profile's
//! separator; UTF-8 (with or without BOM), Windows-1252 or UTF-16 (LE or BE, with BOM), RFC
//! 4180 quoting, one borrowed row at a time. A row with a control character (a stray NUL...) is rejected on its own; the file
//! is fatal only when its header is not text or more than 1% of its rows are not.

use std::borrow::Cow;
use std::io::Read;

use serde::Serialize;

use super::profile::ExportProfile;
pub use super::profile::{Role, ROLES};

/// A required column the export's header lacks: its name in the export, and its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumn {
    pub header: String,
    pub role: Role,
}

impl std::fmt::Display for MissingColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no column {} ({})", self.header, self.role.key())
    }
}

/// The text encoding of an export, decided over the whole input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TextEncoding {
    Utf8,
    Windows1252,
    /// With a BOM (`FF FE`), as Windows tools write "Unicode".
    Utf16Le,
    /// With a BOM (`FE FF`).
    Utf16Be,
}

/// Errors that stop the run: nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum CemError {
    #[error("the CEM export is empty: check the export job and pull the file again")]
    EmptyFile,
    #[error("the CEM export has a header but no data rows: check the export job")]
    NoDataRows,
    #[error(
        "the export lacks required columns: {}; check the export's header row, or the names \
         in [export.columns] of the rules file",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    MissingColumns(Vec<MissingColumn>),
    /// The header line has a control byte: a binary file (a ZIP, a spreadsheet), or UTF-16
    /// without its byte order mark.
    #[error(
        "the CEM export is not text (control byte 0x{byte:02X} in its header line): is this the \
         right file? A UTF-16 export needs its byte order mark (Windows tools write one when \
         saving as \"Unicode\")"
    )]
    NotText { byte: u8 },
    /// Too many rows with control characters to be a damaged export rather than another file.
    #[error(
        "the CEM export is not text: {bad_rows} of its {rows} rows have control characters \
         (more than 1%); nothing was loaded. Is this the right file? Check the export job"
    )]
    MostlyNotText { bad_rows: u64, rows: u64 },
    #[error("cannot read the CEM export: {0}")]
    Io(#[source] std::io::Error),
    #[error("cannot parse the CEM export as CSV: {0}")]
    Csv(#[source] csv::Error),
}

/// Bytes that are not text in any field: C0 controls other than tab, LF and CR, and DEL.
const fn is_control(b: u8) -> bool {
    (b < 0x20 && !matches!(b, 0x09 | 0x0A | 0x0D)) || b == 0x7F
}

/// The first control byte of `bytes`, if any. Every row passes through here, so the common
/// answer (none) is found by a branch-free scan of 32-byte blocks the compiler vectorizes.
fn has_control(bytes: &[u8]) -> Option<u8> {
    let any = bytes
        .chunks(32)
        .any(|block| block.iter().fold(false, |seen, &b| seen | is_control(b)));
    if any {
        bytes.iter().copied().find(|&b| is_control(b))
    } else {
        None
    }
}

/// Fatal when more than one row, and more than 1% of the rows, have control characters:
/// one corrupt row costs that row, a file of them is not an export.
fn mostly_not_text(bad_rows: u64, rows: u64) -> bool {
    bad_rows > 1 && bad_rows.saturating_mul(100) > rows
}

/// Decides the encoding: a UTF-16 byte order mark → UTF-16; else, over the whole input,
/// valid UTF-8 → UTF-8, else Windows-1252. Also catches empty input. Reads `input` up to
/// where the answer is certain: its end for UTF-8, the first invalid byte after some text
/// for Windows-1252.
pub fn detect_encoding<R: Read>(mut input: R) -> Result<TextEncoding, CemError> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CemError::Io(e)),
        }
    }
    let input = (&head[..got]).chain(input);
    let utf16 = match head {
        [0xFF, 0xFE] if got == 2 => Some(TextEncoding::Utf16Le),
        [0xFE, 0xFF] if got == 2 => Some(TextEncoding::Utf16Be),
        _ => None,
    };
    match utf16 {
        Some(encoding) => {
            let mut text = TextReader::new(input, encoding);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = read_some(&mut text, &mut buf)?;
                if n == 0 {
                    return Err(CemError::EmptyFile);
                }
                if buf[..n].iter().any(|b| !b.is_ascii_whitespace()) {
                    return Ok(encoding);
                }
            }
        }
        None => detect_8bit(input),
    }
}

fn read_some(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, CemError> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.map_err(CemError::Io),
        }
    }
}

/// UTF-8 or Windows-1252, over the whole input.
fn detect_8bit<R: Read>(mut input: R) -> Result<TextEncoding, CemError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize; // an unfinished UTF-8 sequence kept at the start of buf
    let mut utf8 = true;
    let mut seen_text = false;
    loop {
        let n = read_some(&mut input, &mut buf[carry..])?;
        if n == 0 {
            break;
        }
        let end = carry + n;
        let fresh = &buf[carry..end];
        // A BOM alone is no content.
        seen_text = seen_text
            || fresh
                .iter()
                .any(|&b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
        carry = 0;
        // Decided: not UTF-8, and not empty. The rest need not be read.
        if !utf8 && seen_text {
            break;
        }
        if utf8 {
            match std::str::from_utf8(&buf[..end]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {
                    buf.copy_within(e.valid_up_to()..end, 0);
                    carry = end - e.valid_up_to();
                }
                Err(_) => utf8 = false,
            }
            if !utf8 && seen_text {
                break;
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

/// The export as the CSV parser reads it: 8-bit encodings as they are (fields are decoded
/// one by one), UTF-16 transcoded to UTF-8 as it streams, BOM removed.
pub enum TextReader<R: Read> {
    Bytes(R),
    Utf16(Box<Utf16Reader<R>>),
}

impl<R: Read> TextReader<R> {
    pub fn new(input: R, encoding: TextEncoding) -> TextReader<R> {
        match encoding {
            TextEncoding::Utf8 | TextEncoding::Windows1252 => TextReader::Bytes(input),
            TextEncoding::Utf16Le => {
                TextReader::Utf16(Box::new(Utf16Reader::new(input, encoding_rs::UTF_16LE)))
            }
            TextEncoding::Utf16Be => {
                TextReader::Utf16(Box::new(Utf16Reader::new(input, encoding_rs::UTF_16BE)))
            }
        }
    }
}

impl<R: Read> Read for TextReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            TextReader::Bytes(r) => r.read(buf),
            TextReader::Utf16(r) => r.read(buf),
        }
    }
}

/// Streams UTF-16 (with its BOM) out as UTF-8 through `encoding_rs`; malformed sequences
/// become U+FFFD, as in every other decoding here.
pub struct Utf16Reader<R: Read> {
    input: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    raw_start: usize,
    raw_end: usize,
    input_done: bool,
    text: Vec<u8>,
    text_start: usize,
    text_end: usize,
    finished: bool,
}

impl<R: Read> Utf16Reader<R> {
    fn new(input: R, encoding: &'static encoding_rs::Encoding) -> Utf16Reader<R> {
        const RAW: usize = 64 * 1024;
        Utf16Reader {
            input,
            decoder: encoding.new_decoder_with_bom_removal(),
            raw: vec![0; RAW],
            raw_start: 0,
            raw_end: 0,
            input_done: false,
            // Two bytes of UTF-16 are at most three of UTF-8.
            text: vec![0; RAW * 3 / 2 + 16],
            text_start: 0,
            text_end: 0,
            finished: false,
        }
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.text_start < self.text_end {
                let n = buf.len().min(self.text_end - self.text_start);
                buf[..n].copy_from_slice(&self.text[self.text_start..self.text_start + n]);
                self.text_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.raw_start == self.raw_end && !self.input_done {
                let n = loop {
                    match self.input.read(&mut self.raw) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                };
                self.raw_start = 0;
                self.raw_end = n;
                self.input_done = n == 0;
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.raw[self.raw_start..self.raw_end],
                &mut self.text,
                self.input_done,
            );
            self.raw_start += read;
            self.text_start = 0;
            self.text_end = written;
            if self.input_done && result == encoding_rs::CoderResult::InputEmpty {
                self.finished = true;
            }
        }
    }
}

/// A bad row: never transformed, always reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowReject {
    pub line: u64,
    pub course_code: String,
    pub column: Option<&'static str>,
    pub reason: String,
}

/// One data row, fields decoded and trimmed, borrowed from the reader's buffers.
pub struct CemRow<'a> {
    pub line: u64,
    /// Set when the row was two physical lines joined across an unquoted line break: the
    /// second line's number.
    pub joined_with: Option<u64>,
    fields: [&'a str; ROLES],
}

impl<'a> CemRow<'a> {
    /// The field of the column that plays `role`.
    #[inline]
    pub fn get(&self, role: Role) -> &'a str {
        self.fields[role as usize]
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
    csv: csv::Reader<TextReader<R>>,
    /// Where each role's column is, resolved once at the header.
    index: [usize; ROLES],
    width: usize,
    /// The header's names, for naming a column the rules do not use.
    names: Vec<String>,
    /// How fields are decoded (UTF-16 reaches the parser as UTF-8).
    encoding: TextEncoding,
    /// Rows handed out, and of them rejected for control characters.
    rows: u64,
    not_text: u64,
    record: csv::ByteRecord,
    /// `record` holds a line read ahead, not yet handed out.
    pending: bool,
    /// The line read ahead of a short one.
    next: csv::ByteRecord,
    /// Two short lines joined.
    joined: csv::ByteRecord,
    /// The used fields of a row that is not ASCII, decoded: one buffer reused for every
    /// row rather than a `String` per field.
    decoded: String,
    /// `record` is the second part of a broken row that could not be joined: reject it
    /// without trying to join it with the line after.
    part: bool,
}

impl<R: Read> CemReader<R> {
    /// Reads the header and the first data row; fails on missing columns or no data rows.
    pub fn new(
        input: R,
        encoding: TextEncoding,
        profile: &ExportProfile,
    ) -> Result<CemReader<R>, CemError> {
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(profile.delimiter())
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(TextReader::new(input, encoding));
        let encoding = match encoding {
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => TextEncoding::Utf8,
            other => other,
        };
        let mut header = csv::ByteRecord::new();
        if !csv.read_byte_record(&mut header).map_err(CemError::Csv)? {
            return Err(CemError::EmptyFile);
        }
        if let Some(byte) = has_control(header.as_slice()) {
            return Err(CemError::NotText { byte });
        }
        let names = header_names(&header, encoding);
        let index = column_index(&names, profile)?;
        let mut record = csv::ByteRecord::new();
        if !csv.read_byte_record(&mut record).map_err(CemError::Csv)? {
            return Err(CemError::NoDataRows);
        }
        Ok(CemReader {
            csv,
            index,
            width: header.len(),
            names,
            encoding,
            rows: 0,
            not_text: 0,
            record,
            pending: true,
            next: csv::ByteRecord::new(),
            joined: csv::ByteRecord::new(),
            decoded: String::with_capacity(1024),
            part: false,
        })
    }

    /// The next row, or `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<Read1<'_>>, CemError> {
        if !self.advance()? {
            return Ok(None);
        }
        self.rows += 1;
        let line = line_of(&self.record);
        let part = std::mem::take(&mut self.part);
        if self.record.len() < self.width
            && !part
            && self
                .csv
                .read_byte_record(&mut self.next)
                .map_err(CemError::Csv)?
        {
            return Ok(Some(self.join_or_reject(line)));
        }
        if self.record.len() != self.width {
            return Ok(Some(Read1::Bad(
                self.field_count_reject(&self.record, line),
            )));
        }
        Ok(Some(self.text_row(line, None)))
    }

    /// Puts the next line in `record`: the one read ahead, else a new one. `false` at the
    /// end, where an export of too many rows that are not text fails.
    #[inline]
    fn advance(&mut self) -> Result<bool, CemError> {
        if self.pending {
            self.pending = false;
            return Ok(true);
        }
        if self
            .csv
            .read_byte_record(&mut self.record)
            .map_err(CemError::Csv)?
        {
            return Ok(true);
        }
        if mostly_not_text(self.not_text, self.rows) {
            return Err(CemError::MostlyNotText {
                bad_rows: self.not_text,
                rows: self.rows,
            });
        }
        Ok(false)
    }

    /// A short `record` and the line read after it (`next`): one row when together they
    /// have the header's count, else the short line's reject.
    fn join_or_reject(&mut self, line: u64) -> Read1<'_> {
        let next_line = line_of(&self.next);
        // A next line of full width is a row of its own, never the end of a broken
        // one: joined to a stray fragment, a good row would be spoiled.
        if self.next.len() < self.width && self.record.len() + self.next.len() - 1 == self.width {
            join(&self.record, &self.next, &mut self.joined);
            return self.text_row(line, Some(next_line));
        }
        let reject = self.field_count_reject(&self.record, line);
        // The next line is handed out on the next call; if it is short, it is the other
        // part of this row.
        std::mem::swap(&mut self.record, &mut self.next);
        self.pending = true;
        self.part = self.record.len() < self.width;
        Read1::Bad(reject)
    }

    /// The row of a line of the header's width: `joined` when it was joined with the line
    /// `joined_with`, else `record`. Its reject when it has a control character.
    #[inline]
    fn text_row(&mut self, line: u64, joined_with: Option<u64>) -> Read1<'_> {
        let rec = match joined_with {
            Some(_) => &self.joined,
            None => &self.record,
        };
        if let Some(reject) = self.control_reject(rec, line) {
            self.not_text += 1;
            return Read1::Bad(reject);
        }
        let fields = fields(&self.index, self.encoding, rec, &mut self.decoded);
        Read1::Row(CemRow {
            line,
            joined_with,
            fields,
        })
    }

    /// The reject of a row with a control character, naming the first column that has one.
    fn control_reject(&self, rec: &csv::ByteRecord, line: u64) -> Option<RowReject> {
        has_control(rec.as_slice())?;
        let at = rec.iter().position(|f| has_control(f).is_some())?;
        // A used column is named by its role, as every reject names it; another by its header.
        let used = Role::ALL
            .into_iter()
            .find(|&r| self.index[r as usize] == at);
        let name = used.map_or_else(|| self.names[at].clone(), |r| r.key().to_owned());
        let code = rec
            .get(self.index[Role::CourseCode as usize])
            .map_or(Cow::Borrowed(""), |f| decode(f, self.encoding));
        Some(RowReject {
            line,
            // A code with the control character in it would carry it into the reports.
            course_code: code
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .to_owned(),
            column: used.map(Role::key),
            reason: format!("control character in {name}"),
        })
    }

    fn field_count_reject(&self, rec: &csv::ByteRecord, line: u64) -> RowReject {
        let code = rec
            .get(self.index[Role::CourseCode as usize])
            .map_or(Cow::Borrowed(""), |f| decode(f, self.encoding));
        RowReject {
            line,
            course_code: code.trim().to_owned(),
            column: None,
            reason: format!("expected {} fields, found {}", self.width, rec.len()),
        }
    }
}

/// The header's names, decoded, trimmed and in capitals, a BOM left in the first removed.
fn header_names(header: &csv::ByteRecord, encoding: TextEncoding) -> Vec<String> {
    header
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
        .collect()
}

/// Where each role's column is among `names` (in capitals), in [`Role`] order; all of the
/// missing ones named, header and role, when any is.
fn column_index(names: &[String], profile: &ExportProfile) -> Result<[usize; ROLES], CemError> {
    let mut index = [0usize; ROLES];
    let mut missing = Vec::new();
    for (slot, role) in index.iter_mut().zip(Role::ALL) {
        let want = profile.header(role);
        match names.iter().position(|n| n.eq_ignore_ascii_case(want)) {
            Some(i) => *slot = i,
            None => missing.push(MissingColumn {
                header: want.to_owned(),
                role,
            }),
        }
    }
    if !missing.is_empty() {
        return Err(CemError::MissingColumns(missing));
    }
    Ok(index)
}

/// The used columns of `rec`, decoded and trimmed. An ASCII row (most of them) is borrowed
/// as it is; any other is decoded into `decoded`, and its fields borrowed from there.
fn fields<'r>(
    index: &[usize; ROLES],
    encoding: TextEncoding,
    rec: &'r csv::ByteRecord,
    decoded: &'r mut String,
) -> [&'r str; ROLES] {
    let bytes = rec.as_slice();
    // ASCII is the same text in every encoding read here; valid UTF-8 needs no decoding.
    // The row is checked once and its fields sliced from it: they split at the separator, an
    // ASCII character, so at character boundaries.
    let as_is = match encoding {
        TextEncoding::Windows1252 if !bytes.is_ascii() => None,
        _ => std::str::from_utf8(bytes).ok(),
    };
    if let Some(text) = as_is {
        return std::array::from_fn(|k| {
            let field = rec.range(index[k]).and_then(|r| text.get(r));
            trim(field.unwrap_or_default())
        });
    }
    decoded.clear();
    let mut ends = [0usize; ROLES];
    for (k, end) in ends.iter_mut().enumerate() {
        decode_into(rec.get(index[k]).unwrap_or_default(), encoding, decoded);
        *end = decoded.len();
    }
    let text: &'r str = decoded;
    std::array::from_fn(|k| {
        let start = if k == 0 { 0 } else { ends[k - 1] };
        trim(text.get(start..ends[k]).unwrap_or_default())
    })
}

/// [`str::trim`], answering the usual case (nothing to trim) from the two end bytes: a
/// visible ASCII character is never whitespace.
pub(super) fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        [only] if only.is_ascii_graphic() => s,
        _ => s.trim(),
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

/// [`decode`], appended to `out` without a `String` of its own.
fn decode_into(bytes: &[u8], encoding: TextEncoding, out: &mut String) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if encoding != TextEncoding::Windows1252 || text.is_ascii() {
            // Most fields of a row that is not ASCII are: copied, not run through a decoder.
            out.push_str(text);
            return;
        }
    }
    if encoding != TextEncoding::Windows1252 {
        out.push_str(&decode(bytes, encoding));
        return;
    }
    let mut decoder = encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling();
    // Each Windows-1252 byte is at most three bytes of UTF-8.
    out.reserve(bytes.len() * 3);
    let (_, _, _) = decoder.decode_to_string(bytes, out, true);
}

fn decode(bytes: &[u8], encoding: TextEncoding) -> Cow<'_, str> {
    match encoding {
        // Validated over the whole input already (or transcoded from UTF-16); lossy only
        // guards against a changed file.
        TextEncoding::Utf8 | TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            String::from_utf8_lossy(bytes)
        }
        TextEncoding::Windows1252 => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}
