//! How much of a step's answer may travel in the state machine's state, in one place.
//!
//! Step Functions fails a state whose input or output exceeds 256 KiB (as UTF-8 JSON) with
//! `States.DataLimitExceeded`, and `States.ALL` does not catch it: the run dies without a
//! Slack notice. The state carries every section at once (run, pull, transform, push,
//! alma_job, caches, report, error), and the Parallel's raw result holds it twice (one copy
//! per branch, before the merge), so the whole state must stay under half the limit. Each
//! step's output therefore keeps to [`STEP_OUTPUT_BUDGET`]: every list that comes from
//! outside (the export, the SFTP server, Alma) is cut to a few items with a last line saying
//! how many more there are, and every text from outside to a few hundred bytes. The full
//! lists stay where people look for them: `run-summary.json` in S3 and the logs.
//!
//! Keys and file names we write to S3 need no cap here: S3 keys are at most 1,024 bytes.

/// What Step Functions allows for a state's input or output, in bytes of JSON.
pub const STATE_LIMIT: usize = 256 * 1024;

/// What one step's serialised output stays under (tests hold every step to it).
pub const STEP_OUTPUT_BUDGET: usize = 32 * 1024;

/// Items of a list kept in the state (warnings, candidate files); the rest are counted in
/// a last "… and N more" line.
pub const LIST_ITEMS: usize = 25;

/// One line of a list (a warning, a candidate file name) or a reason, in bytes of JSON.
pub const LINE_BYTES: usize = 400;

/// A status or id Alma sent, or a counter's name, in bytes of JSON.
pub const NAME_BYTES: usize = 255;

/// Counters of Alma's job run kept (the course loader has about a dozen).
pub const COUNTERS: usize = 40;

/// Years of Alma courses cached by the Map: its result has one entry per year. A normal day
/// needs two or three; the report fetches any other year itself.
pub const YEARS: usize = 10;

/// An error's message (`errorMessage`), in bytes of JSON: a `Catch` copies it into the state
/// as `$.error.Cause`, escaped once more.
pub const MESSAGE_BYTES: usize = 4 * 1024;

/// `text` cut so that it takes at most `max_bytes` as a JSON string (quotes not counted),
/// at a character boundary, ending in "…" when cut.
pub fn clip(text: &str, max_bytes: usize) -> String {
    if json_len(text) <= max_bytes {
        return text.to_string();
    }
    const ELLIPSIS: &str = "…";
    let room = max_bytes.saturating_sub(ELLIPSIS.len());
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        let n = json_char_len(c);
        if used + n > room {
            break;
        }
        used += n;
        end = i + c.len_utf8();
    }
    let mut out = text[..end].to_string();
    out.push_str(ELLIPSIS);
    out
}

/// The bytes `text` takes inside a JSON string as serde_json writes it.
fn json_len(text: &str) -> usize {
    text.chars().map(json_char_len).sum()
}

fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// The first `limit` items, each clipped to [`LINE_BYTES`], and a last line saying how many
/// more there are and where to find them (`more`).
pub(crate) fn capped(
    items: impl IntoIterator<Item = String>,
    limit: usize,
    more: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut extra = 0usize;
    for item in items {
        if out.len() < limit {
            out.push(clip(&item, LINE_BYTES));
        } else {
            extra += 1;
        }
    }
    if extra > 0 {
        out.push(clip(&format!("… and {extra} more ({more})"), LINE_BYTES));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_bytes(text: &str) -> usize {
        serde_json::to_string(text).unwrap().len() - 2
    }

    #[test]
    fn capped_lists_say_how_many_were_left_out() {
        let items = (0..5).map(|i| i.to_string());
        assert_eq!(
            capped(items, 3, "see x"),
            vec!["0", "1", "2", "… and 2 more (see x)"]
        );
        assert_eq!(capped(vec!["a".to_string()], 3, "x"), vec!["a"]);
    }

    #[test]
    fn clipping_counts_the_json_escapes_and_keeps_whole_characters() {
        assert_eq!(clip("short", 10), "short");
        for text in [
            "x".repeat(5000),
            "é\"\\\n\u{1}🦀".repeat(700),
            "\u{1}".repeat(999),
        ] {
            for max in [0, 1, 7, 100, LINE_BYTES] {
                let cut = clip(&text, max);
                assert!(json_bytes(&cut) <= max.max("…".len()), "{max}: {cut:?}");
                assert!(cut.ends_with('…'));
                assert!(text.starts_with(cut.trim_end_matches('…')));
            }
            assert_eq!(json_len(&text), json_bytes(&text));
        }
    }

    #[test]
    fn every_line_of_a_capped_list_is_clipped() {
        let long = vec!["\"".repeat(10_000); 3];
        let lines = capped(long, 2, "x");
        assert_eq!(
            lines.len(),
            3,
            "two items and the line that counts the rest"
        );
        assert_eq!(lines[2], "… and 1 more (x)");
        for line in &lines[..2] {
            assert!(line.ends_with('…'), "{line}");
            assert!(json_bytes(line) <= LINE_BYTES);
        }
    }
}
