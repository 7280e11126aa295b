//! Bar charts of the last 42 days as inline SVG: one bar per day that has a figure, the
//! run date's bar marked, each bar titled with its date and value (a tooltip, no script).
//! Drawn with maud like the rest of the page, so every text in it is escaped by maud, not
//! by hand. SVG elements close with an end tag (`<line …></line>`): inside HTML an SVG start
//! tag without `/>` or an end tag would hold everything after it.

use chrono::{Duration, NaiveDate};
use maud::{html, Markup};

/// Days a chart spans, the run date included: the bucket keeps six weeks.
pub const DAYS: i64 = 42;

const WIDTH: f64 = 420.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 8.0;
const PLOT_WIDTH: f64 = WIDTH - LEFT - 4.0;
const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
/// The plot's baseline: where a bar stands.
const BASE: f64 = TOP + PLOT_HEIGHT;
const SLOT: f64 = PLOT_WIDTH / DAYS as f64;

/// One day's bar: its place among the 42 slots, its date and its value.
struct Bar {
    slot: i64,
    date: NaiveDate,
    value: f64,
}

/// An SVG bar chart of `points` (date, value) over the 42 days ending at `run_date`.
/// Points outside those days are left out.
pub fn bars(title: &str, unit: &str, run_date: NaiveDate, points: &[(NaiveDate, f64)]) -> Markup {
    let first = run_date - Duration::days(DAYS - 1);
    let shown: Vec<Bar> = points
        .iter()
        .filter(|(d, v)| *d >= first && *d <= run_date && v.is_finite() && *v >= 0.0)
        .map(|(d, v)| Bar {
            slot: (*d - first).num_days(),
            date: *d,
            value: *v,
        })
        .collect();
    let max = shown.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    // All zeros still get a scale, so their marks sit on the axis.
    let scale_top = if max > 0.0 { nice_ceiling(max) } else { 1.0 };
    html! {
        svg class="chart" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
            aria-label={ (title) ", last " (DAYS) " days" } data-days=(shown.len())
            preserveAspectRatio="xMidYMid meet" {
            (axes(scale_top, first, run_date))
            @for bar in &shown {
                (day_bar(bar, run_date, scale_top, unit))
            }
            @if shown.is_empty() {
                text class="empty" x=(LEFT + PLOT_WIDTH / 2.0) y=(TOP + PLOT_HEIGHT / 2.0)
                    text-anchor="middle" { "no figures yet" }
            }
        }
    }
}

/// The axis, a top gridline labelled with the scale, and the first and last dates.
fn axes(scale_top: f64, first: NaiveDate, run_date: NaiveDate) -> Markup {
    let right = LEFT + PLOT_WIDTH;
    let tick_x = LEFT - 4.0;
    let dates_y = HEIGHT - 4.0;
    html! {
        line class="axis" x1=(LEFT) y1=(BASE) x2=(right) y2=(BASE) {}
        line class="grid" x1=(LEFT) y1=(TOP) x2=(right) y2=(TOP) {}
        text class="tick" x=(tick_x) y=(TOP + 8.0) text-anchor="end" { (short_number(scale_top)) }
        text class="tick" x=(tick_x) y=(BASE) text-anchor="end" { "0" }
        text class="tick" x=(LEFT) y=(dates_y) { (first.format("%b %-d")) }
        text class="tick" x=(right) y=(dates_y) text-anchor="end" { (run_date.format("%b %-d")) }
    }
}

/// One bar, titled with its date and value. A zero is a thin mark on the axis, so a day of
/// none differs from a day unknown.
fn day_bar(bar: &Bar, run_date: NaiveDate, scale_top: f64, unit: &str) -> Markup {
    let height = (bar.value / scale_top * PLOT_HEIGHT).max(1.5);
    let x = LEFT + bar.slot as f64 * SLOT + SLOT * 0.15;
    let class = match (bar.date == run_date, bar.value == 0.0) {
        (true, _) => "bar today",
        (false, true) => "bar zero",
        (false, false) => "bar",
    };
    html! {
        rect class=(class) x=(format_args!("{x:.2}")) y=(format_args!("{:.2}", BASE - height))
            width=(format_args!("{:.2}", SLOT * 0.7)) height=(format_args!("{height:.2}"))
            data-date=(bar.date) data-value=(bar.value) {
            title { (bar.date) ": " (short_number(bar.value)) " " (unit) }
        }
    }
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

    fn svg(title: &str, unit: &str, run_date: NaiveDate, points: &[(NaiveDate, f64)]) -> String {
        bars(title, unit, run_date, points).into_string()
    }

    #[test]
    fn each_day_in_the_window_is_one_bar_and_the_run_date_is_marked() {
        let svg = svg(
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
        let svg = svg(
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
        let svg = svg(
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
        let svg = svg("Alma job minutes", "minutes", d(28), &[]);
        assert!(svg.contains("no figures yet"));
        assert!(!svg.contains("<rect "));
    }

    #[test]
    fn the_chart_is_svg_whose_lines_end_and_whose_words_are_escaped() {
        let svg = svg("Rows <rejected> & \"kept\"", "a<b>", d(28), &[(d(28), 3.0)]);
        assert!(svg.starts_with(r#"<svg class="chart" viewBox="0 0 420 150" role="img" aria-label="Rows &lt;rejected&gt; &amp; &quot;kept&quot;, last 42 days" data-days="1""#), "{svg}");
        assert!(
            svg.contains("<title>2026-11-28: 3 a&lt;b&gt;</title></rect>"),
            "{svg}"
        );
        assert!(!svg.contains("<b>"));
        // An SVG element in HTML either ends or holds what follows it.
        assert_eq!(
            svg.matches("<line ").count(),
            svg.matches("</line>").count()
        );
        assert!(
            svg.contains(r#"<text class="tick" x="40" y="146">Oct 18</text>"#),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
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
