//! Small templated SVG charts: bars, a median line with an IQR band, and a
//! forest plot; and the pieces the standalone figures of [`crate::plots`]
//! are drawn with (a plot area anywhere, x ticks, step curves with bands,
//! censoring marks, a legend, the standalone document). Inline, no
//! scripts, no fonts fetched; sized in the viewBox so they scale to the
//! page and print sharply.

use std::fmt::Write;

use crate::esc;
use crate::style::CSS;

pub(crate) const W: f64 = 640.0;
pub(crate) const H: f64 = 260.0;
pub(crate) const LEFT: f64 = 56.0;
pub(crate) const RIGHT: f64 = 16.0;
pub(crate) const TOP: f64 = 16.0;
pub(crate) const BOTTOM: f64 = 48.0;

/// Colours of the curves of a multi-series chart: the report's accent blue
/// and its mark red first, then colours that stay apart from both.
pub const SERIES: [&str; 6] = [
    "#1f4e79", "#c0392b", "#2e7d32", "#8e44ad", "#b9770e", "#5a5a5a",
];

/// Dash patterns paired with [`SERIES`], so that curves stay apart in a
/// grey print too.
pub const DASHES: [&str; 6] = ["", "6 3", "2 2", "8 3 2 3", "4 4", "1 3"];

/// Where a chart's plot area sits, in viewBox units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Area {
    /// The x of the area's right edge.
    pub fn right(&self) -> f64 {
        self.left + self.width
    }

    /// The y of the area's bottom edge (the x axis).
    pub fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// The plot area of the report's fixed-size charts.
const CHART: Area = Area {
    left: LEFT,
    top: TOP,
    width: W - LEFT - RIGHT,
    height: H - TOP - BOTTOM,
};

/// A linear map from data values to viewBox units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// The data range, and the viewBox coordinates its ends go to.
    pub from: (f64, f64),
    pub to: (f64, f64),
}

impl Scale {
    /// `v` in viewBox units; a value outside `from` lands on its nearer
    /// end, so that nothing is drawn outside the plot area, and an empty
    /// range maps everything to its start.
    pub fn at(&self, v: f64) -> f64 {
        let span = self.from.1 - self.from.0;
        let f = if span > 0.0 {
            ((v - self.from.0) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.to.0 + (self.to.1 - self.to.0) * f
    }
}

/// The width of `text` at a font size of `px`, estimated (0.62 em a
/// character, a little more than system-ui's average) so that layouts
/// leave room without a font to measure with.
pub fn text_width(text: &str, px: f64) -> f64 {
    text.chars().count() as f64 * px * 0.62
}

/// `text` cut to at most `max` characters, the cut marked with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The report's chart style for a standalone SVG: the page's font family
/// and its `svg .tick`, `.axis`, `.val` and `.mark` rules, read from the
/// report's own style sheet so that a figure looks as the report does.
fn standalone_style() -> String {
    let font = CSS
        .split("font-family:")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .map_or("sans-serif", str::trim);
    let mut style = format!("svg {{ font-family: {font}; }}");
    for rule in CSS.lines().filter(|l| l.trim_start().starts_with("svg .")) {
        style.push(' ');
        style.push_str(rule.trim());
    }
    style
}

/// A standalone SVG document of `width` × `height` around `body`: the SVG
/// namespace, width, height and viewBox, `title` as its `<title>` (escaped,
/// shown by viewers and read by screen readers), the report's chart style
/// and a white background. It holds no script and refers to nothing
/// outside itself, as long as `body` does not.
pub fn document(title: &str, width: f64, height: f64, body: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img"><title>{}</title><style>{}</style><rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>{body}</svg>"##,
        esc(title),
        standalone_style()
    )
}

fn open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(label)
    );
}

/// The value axis and the titles of a chart.
pub struct Axes<'a> {
    pub y_max: f64,
    pub y_ticks: &'a [f64],
    pub y_fmt: &'a dyn Fn(f64) -> String,
    pub x_title: &'a str,
    pub y_title: &'a str,
}

/// An opened chart with its axes drawn.
pub(crate) fn framed(label: &str, ax: &Axes<'_>) -> String {
    let mut out = String::new();
    open(&mut out, label);
    axes(&mut out, ax);
    out
}

fn axes(out: &mut String, a: &Axes<'_>) {
    axes_in(out, &CHART, a);
}

/// The y axis of `a` (ticks, labels and light grid lines from 0 to
/// `y_max`), the axis lines, and both titles, around `area`: the x title
/// 40 units under the area, the y title 42 units left of it.
pub fn axes_in(out: &mut String, area: &Area, a: &Axes<'_>) {
    let (y_max, y_ticks, y_fmt, x_title, y_title) =
        (a.y_max, a.y_ticks, a.y_fmt, a.x_title, a.y_title);
    let (left, top, right, bottom) = (area.left, area.top, area.right(), area.bottom());
    let plot_h = area.height;
    for &t in y_ticks {
        let y = top + plot_h * (1.0 - t / y_max);
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            left - 6.0,
            y + 4.0,
            esc(&y_fmt(t))
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="#333"/><line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#333"/>"##,
    );
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" class="axis">{}</text><text transform="translate({} {}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
        left + area.width / 2.0,
        bottom + 40.0,
        esc(x_title),
        left - 42.0,
        top + plot_h / 2.0,
        esc(y_title)
    );
}

/// Tick marks and their labels under `area`'s x axis, at `ticks` (data
/// values placed by `x`).
pub fn x_ticks(
    out: &mut String,
    area: &Area,
    x: &Scale,
    ticks: &[f64],
    fmt: &dyn Fn(f64) -> String,
) {
    let bottom = area.bottom();
    for &t in ticks {
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{bottom}" y2="{}" stroke="#333"/><text x="{px:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
            bottom + 4.0,
            bottom + 16.0,
            esc(&fmt(t)),
            px = x.at(t)
        );
    }
}

/// The `d` of a step function's path: from the first point, each value
/// holds until the next point's x, where the path drops (or rises) to its
/// value; after the last point it holds until `x_end`. Points are data
/// values placed by `x` and `y`: `M x0,y0 H x1 V y1 … H x_end`.
pub fn step_path(points: &[(f64, f64)], x_end: f64, x: &Scale, y: &Scale) -> String {
    let mut d = String::new();
    for (i, &(px, py)) in points.iter().enumerate() {
        if i == 0 {
            let _ = write!(d, "M{:.1},{:.1}", x.at(px), y.at(py));
        } else {
            let _ = write!(d, " H{:.1} V{:.1}", x.at(px), y.at(py));
        }
    }
    if !points.is_empty() {
        let _ = write!(d, " H{:.1}", x.at(x_end));
    }
    d
}

/// The `d` of a band between two step functions (a confidence band): the
/// upper steps through `(x, lower, upper)` out to `x_end`, then the lower
/// steps back, closed.
pub fn step_band_path(points: &[(f64, f64, f64)], x_end: f64, x: &Scale, y: &Scale) -> String {
    let upper: Vec<(f64, f64)> = points.iter().map(|&(px, _, u)| (px, u)).collect();
    let mut d = step_path(&upper, x_end, x, y);
    if d.is_empty() {
        return d;
    }
    // Back along the lower limit: at each point's x (right to left) the
    // value before it is the previous point's.
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.push(x_end);
    for i in (0..points.len()).rev() {
        let _ = write!(d, " V{:.1} H{:.1}", y.at(points[i].1), x.at(xs[i]));
    }
    d.push_str(" Z");
    d
}

/// Plus-shaped marks (censoring ticks) at `points`, one subpath each, as
/// one path of class `class` in `colour`.
pub fn plus_marks(
    out: &mut String,
    class: &str,
    points: &[(f64, f64)],
    x: &Scale,
    y: &Scale,
    colour: &str,
) {
    if points.is_empty() {
        return;
    }
    let mut d = String::new();
    for &(px, py) in points {
        let (cx, cy) = (x.at(px), y.at(py));
        let _ = write!(
            d,
            "M{:.1},{cy:.1} h8 M{cx:.1},{:.1} v8 ",
            cx - 4.0,
            cy - 4.0
        );
    }
    let _ = write!(
        out,
        r#"<path class="{}" d="{}" stroke="{}" stroke-width="1.5" fill="none"/>"#,
        esc(class),
        d.trim_end(),
        esc(colour)
    );
}

/// One entry of a legend: its text and the colour and dash of its line.
pub struct LegendItem<'a> {
    pub label: &'a str,
    pub colour: &'a str,
    pub dash: &'a str,
}

/// A legend of line swatches and labels in rows from (`x0`, `y`), wrapped
/// before `max_x`; returns the y of its last row.
pub fn legend(out: &mut String, x0: f64, y: f64, max_x: f64, items: &[LegendItem<'_>]) -> f64 {
    let (mut x, mut y) = (x0, y);
    for item in items {
        let w = 28.0 + text_width(item.label, 11.0);
        if x > x0 && x + w > max_x {
            x = x0;
            y += 18.0;
        }
        let _ = write!(
            out,
            r#"<g class="legend-item"><line x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{}/><text x="{:.1}" y="{y:.1}" class="tick">{}</text></g>"#,
            x + 20.0,
            y - 4.0,
            y - 4.0,
            esc(item.colour),
            dash_attr(item.dash),
            x + 26.0,
            esc(item.label)
        );
        x += w + 16.0;
    }
    y
}

/// A `stroke-dasharray` attribute for a dash pattern ("" for none).
pub fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{}""#, esc(dash))
    }
}

/// A bar; `None` is a suppressed cell, drawn as a marker labelled with
/// `text` (`<5` or `–`).
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    /// Text on top of the bar.
    pub text: String,
}

/// Vertical bars with a y axis from 0 to `y_max`, and optional vertical
/// reference lines at bar positions (`marks`: position in bar units, label).
pub fn bars(label: &str, bars: &[Bar], ax: &Axes<'_>, marks: &[(f64, &str)]) -> String {
    let y_max = ax.y_max;
    let mut out = framed(label, ax);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = bars.len().max(1) as f64;
    let slot = plot_w / n;
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let bw = slot * 0.7;
        match b.value {
            Some(v) => {
                let h = plot_h * (v / y_max).clamp(0.0, 1.0);
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}" fill="#3b6ea5"/>"##,
                    H - BOTTOM - h
                );
                if !b.text.is_empty() {
                    let _ = write!(
                        out,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="val">{}</text>"#,
                        x + bw / 2.0,
                        H - BOTTOM - h - 4.0,
                        esc(&b.text)
                    );
                }
            }
            None => {
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="3" fill="#999"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="val">{}</text>"##,
                    H - BOTTOM - 3.0,
                    x + bw / 2.0,
                    H - BOTTOM - 8.0,
                    esc(if b.text.is_empty() { "<5" } else { &b.text })
                );
            }
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
            x + bw / 2.0,
            H - BOTTOM + 16.0,
            esc(&b.label)
        );
    }
    for (pos, text) in marks {
        let x = LEFT + slot * pos;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" class="mark">{}</text>"##,
            H - BOTTOM,
            x + 3.0,
            TOP + 10.0,
            esc(text)
        );
    }
    out.push_str("</svg>");
    out
}

/// One point of a median line with its IQR band.
pub struct BandPoint {
    pub x: f64,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
}

/// A median line with a shaded interquartile band over `x` (e.g. weeks).
pub fn band(label: &str, points: &[BandPoint], x_max: f64, ax: &Axes<'_>) -> String {
    let y_max = ax.y_max;
    let mut out = framed(label, ax);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + plot_w * (x / x_max.max(1.0));
    let py = |y: f64| TOP + plot_h * (1.0 - (y / y_max).clamp(0.0, 1.0));
    let step = if x_max > 20.0 {
        (x_max / 10.0).ceil()
    } else {
        1.0
    };
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="tick">{t:.0}</text>"#,
            px(t),
            H - BOTTOM + 16.0
        );
        t += step;
    }
    if !points.is_empty() {
        let mut poly = String::new();
        for p in points {
            let _ = write!(poly, "{:.1},{:.1} ", px(p.x), py(p.q3));
        }
        for p in points.iter().rev() {
            let _ = write!(poly, "{:.1},{:.1} ", px(p.x), py(p.q1));
        }
        let _ = write!(
            out,
            r##"<polygon points="{}" fill="#3b6ea5" fill-opacity="0.2" stroke="none"/>"##,
            poly.trim_end()
        );
        let line: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.median)))
            .collect();
        let _ = write!(
            out,
            r##"<polyline points="{}" fill="none" stroke="#1f4e79" stroke-width="2"/>"##,
            line.join(" ")
        );
        for p in points {
            let _ = write!(
                out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#1f4e79"/>"##,
                px(p.x),
                py(p.median)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One row of a forest plot: a ratio with its CI, or the reference (None).
pub struct ForestRow {
    pub label: String,
    pub estimate: Option<(f64, f64, f64)>,
}

/// Risk ratios on a log axis with a line at 1.
pub fn forest(label: &str, rows: &[ForestRow], lo: f64, hi: f64) -> String {
    let h = 40.0 + 28.0 * rows.len() as f64;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(label)
    );
    forest_in(
        &mut out,
        rows,
        &[],
        &ForestLayout {
            width: W,
            label_w: 120.0,
            text_w: 0.0,
            first_row: 24.0,
            row_h: 28.0,
            lo,
            hi,
            ticks: &[0.5, 0.75, 1.0, 1.25, 1.5],
            tick_fmt: &|t| t.to_string(),
            none_text: "reference",
            arrows: false,
        },
    );
    out.push_str("</svg>");
    out
}

/// How a forest plot is laid out: its columns, its rows and its log axis.
pub struct ForestLayout<'a> {
    /// The width of the whole figure.
    pub width: f64,
    /// The labels' column, from the left edge (labels end 8 units before
    /// the axis begins).
    pub label_w: f64,
    /// The numbers' column at the right edge (0: no numbers).
    pub text_w: f64,
    /// The y of the first row's centre, and the distance between rows.
    pub first_row: f64,
    pub row_h: f64,
    /// The axis's range (ratios, above 0) and its ticks; the tick at 1 is
    /// drawn dark, the others as light grid lines.
    pub lo: f64,
    pub hi: f64,
    pub ticks: &'a [f64],
    pub tick_fmt: &'a dyn Fn(f64) -> String,
    /// What a row without an estimate says, at 1 ("reference").
    pub none_text: &'a str,
    /// Mark with an arrow head a CI that runs past the axis's range.
    pub arrows: bool,
}

impl ForestLayout<'_> {
    /// Where the ratio `v` is drawn: ln(v) placed linearly from `lo` at
    /// the axis's left end to `hi` at its right end, clamped to the axis.
    pub fn x(&self, v: f64) -> f64 {
        let left = self.label_w;
        let plot_w = self.width - left - RIGHT - self.text_w;
        left + plot_w * ((v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())).clamp(0.0, 1.0)
    }

    /// The y of the ticks' labels under the rows of a plot of `n` rows.
    pub fn tick_label_y(&self, n: usize) -> f64 {
        self.first_row + 4.0 + self.row_h * n as f64
    }
}

/// A forest plot's grid, ticks and rows into `out`: one row per `rows`
/// entry (label, CI line, square at the estimate), with `texts[i]` written
/// in the numbers' column when given.
pub fn forest_in(out: &mut String, rows: &[ForestRow], texts: &[String], l: &ForestLayout<'_>) {
    let (lo, hi) = (l.lo, l.hi);
    let left = l.label_w;
    let n = rows.len() as f64;
    for &t in l.ticks {
        if t < lo || t > hi {
            continue;
        }
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{}" y2="{}" stroke="{}"/><text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
            l.first_row - 14.0,
            l.first_row - 10.0 + l.row_h * n,
            if t == 1.0 { "#333" } else { "#ddd" },
            l.tick_label_y(rows.len()),
            esc(&(l.tick_fmt)(t)),
            x = l.x(t)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = l.first_row + l.row_h * i as f64;
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            left - 8.0,
            y + 4.0,
            esc(&r.label)
        );
        match r.estimate {
            Some((e, lower, upper)) => {
                let _ = write!(
                    out,
                    r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#1f4e79" stroke-width="2"/><rect x="{:.1}" y="{:.1}" width="8" height="8" fill="#1f4e79"/>"##,
                    l.x(lower),
                    l.x(upper),
                    l.x(e) - 4.0,
                    y - 4.0
                );
                if l.arrows && lower < lo {
                    let x = l.x(lo);
                    let _ = write!(
                        out,
                        r##"<path class="clipped" d="M{x:.1},{y:.1} l6,-4 v8 Z" fill="#1f4e79"/>"##
                    );
                }
                if l.arrows && upper > hi {
                    let x = l.x(hi);
                    let _ = write!(
                        out,
                        r##"<path class="clipped" d="M{x:.1},{y:.1} l-6,-4 v8 Z" fill="#1f4e79"/>"##
                    );
                }
            }
            None => {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                    l.x(1.0),
                    y + 4.0,
                    esc(l.none_text)
                );
            }
        }
        if let Some(text) = texts.get(i) {
            let _ = write!(
                out,
                r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
                l.width - RIGHT,
                y + 4.0,
                esc(text)
            );
        }
    }
}
