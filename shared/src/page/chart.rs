//! Bar charts of the last 42 days as inline SVG: one bar per day that has a figure, the
//! run date's bar marked, each bar titled with its date and value (a tooltip, no script).

use std::fmt::Write;

use chrono::{Duration, NaiveDate};

use super::html::escape;

/// Days a chart spans, the run date included: the bucket keeps six weeks.
pub const DAYS: i64 = 42;

const WIDTH: f64 = 420.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;

/// An SVG bar chart of `points` (date, value) over the 42 days ending at `run_date`.
/// Points outside those days are left out.
pub fn bars(title: &str, unit: &str, run_date: NaiveDate, points: &[(NaiveDate, f64)]) -> String {
    let first = run_date - Duration::days(DAYS - 1);
    let shown: Vec<(i64, NaiveDate, f64)> = points
        .iter()
        .filter(|(d, v)| *d >= first && *d <= run_date && v.is_finite() && *v >= 0.0)
        .map(|(d, v)| ((*d - first).num_days(), *d, *v))
        .collect();
    let max = shown.iter().map(|(_, _, v)| *v).fold(0.0_f64, f64::max);
    // All zeros still get a scale, so their marks sit on the axis.
    let scale_top = if max > 0.0 { nice_ceiling(max) } else { 1.0 };
    let plot_w = WIDTH - LEFT - 4.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / DAYS as f64;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" data-days="{days}" preserveAspectRatio="xMidYMid meet">"#,
        label = escape(&format!("{title}, last {DAYS} days")),
        days = shown.len(),
    );
    // Axis, a top gridline labelled with the scale, and the first and last dates.
    let base = TOP + plot_h;
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{x2}" y2="{base}"/><line class="grid" x1="{LEFT}" y1="{TOP}" x2="{x2}" y2="{TOP}"/><text class="tick" x="{tx}" y="{ty}" text-anchor="end">{top}</text><text class="tick" x="{tx}" y="{base}" text-anchor="end">0</text>"#,
        x2 = LEFT + plot_w,
        tx = LEFT - 4.0,
        ty = TOP + 8.0,
        top = escape(&short_number(scale_top)),
    );
    let _ = write!(
        svg,
        r#"<text class="tick" x="{LEFT}" y="{y}">{from}</text><text class="tick" x="{x2}" y="{y}" text-anchor="end">{to}</text>"#,
        y = HEIGHT - 4.0,
        x2 = LEFT + plot_w,
        from = first.format("%b %-d"),
        to = run_date.format("%b %-d"),
    );
    for (slot_index, date, value) in &shown {
        // A zero is a thin mark on the axis, so a day of none differs from a day unknown.
        let h = (value / scale_top * plot_h).max(1.5);
        let x = LEFT + *slot_index as f64 * slot + slot * 0.15;
        let class = match (*date == run_date, *value == 0.0) {
            (true, _) => "bar today",
            (false, true) => "bar zero",
            (false, false) => "bar",
        };
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" data-date="{date}" data-value="{value}"><title>{tip}</title></rect>"#,
            y = base - h,
            w = slot * 0.7,
            tip = escape(&format!("{date}: {} {unit}", short_number(*value))),
        );
    }
    if shown.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{x}" y="{y}" text-anchor="middle">no figures yet</text>"#,
            x = LEFT + plot_w / 2.0,
            y = TOP + plot_h / 2.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `max` (0 stays 0).
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 0.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= max)
        .unwrap_or(10.0 * magnitude)
}

/// Whole numbers as they are, others to one decimal.
fn short_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn each_day_in_the_window_is_one_bar_and_the_run_date_is_marked() {
        let svg = bars(
            "Courses written",
            "courses",
            d(28),
            &[(d(26), 90.0), (d(27), 100.0), (d(28), 45.0)],
        );
        assert_eq!(svg.matches("<rect ").count(), 3);
        assert_eq!(svg.matches(r#"class="bar today""#).count(), 1);
        assert!(svg.contains(r#"data-date="2026-11-28" data-value="45""#));
        assert!(svg.contains("<title>2026-11-27: 100 courses</title>"));
        assert!(svg.contains(">100</text>"), "the scale's top: {svg}");
    }

    #[test]
    fn days_before_the_window_and_after_the_run_date_are_left_out() {
        let old = d(27) - Duration::days(DAYS);
        let svg = bars(
            "Deletes",
            "rows",
            d(27),
            &[(old, 5.0), (d(28), 5.0), (d(27), 0.0)],
        );
        assert_eq!(svg.matches("<rect ").count(), 1);
        assert!(svg.contains(r#"data-days="1""#));
    }

    #[test]
    fn a_day_of_none_is_a_thin_mark_unlike_a_day_without_figures() {
        let svg = bars(
            "Rows rejected",
            "rows",
            d(28),
            &[(d(26), 0.0), (d(28), 4.0)],
        );
        assert_eq!(svg.matches("<rect ").count(), 2);
        assert!(svg.contains(r#"class="bar zero""#), "{svg}");
        assert!(
            svg.contains(r#"height="1.50" data-date="2026-11-26""#),
            "{svg}"
        );
    }

    #[test]
    fn a_chart_without_figures_says_so() {
        let svg = bars("Alma job minutes", "minutes", d(28), &[]);
        assert!(svg.contains("no figures yet"));
        assert!(!svg.contains("<rect "));
    }

    #[test]
    fn the_scale_rounds_up_to_one_two_or_five() {
        assert_eq!(nice_ceiling(0.0), 0.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(11.0), 20.0);
        assert_eq!(nice_ceiling(311.0), 500.0);
        assert_eq!(nice_ceiling(0.4), 0.5);
    }
}
