//! Small templated SVG charts: bars, a median line with an IQR band, and a
//! forest plot. Inline, no scripts, no fonts fetched; sized in the viewBox
//! so they scale to the page and print sharply.

use std::fmt::Write;

use crate::esc;

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 48.0;

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
fn framed(label: &str, ax: &Axes<'_>) -> String {
    let mut out = String::new();
    open(&mut out, label);
    axes(&mut out, ax);
    out
}

fn axes(out: &mut String, a: &Axes<'_>) {
    let (y_max, y_ticks, y_fmt, x_title, y_title) =
        (a.y_max, a.y_ticks, a.y_fmt, a.x_title, a.y_title);
    let plot_h = H - TOP - BOTTOM;
    for &t in y_ticks {
        let y = TOP + plot_h * (1.0 - t / y_max);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&y_fmt(t))
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#333"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" class="axis">{}</text><text transform="translate(14 {}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 8.0,
        esc(x_title),
        TOP + plot_h / 2.0,
        esc(y_title)
    );
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
    let left = 120.0;
    let plot_w = W - left - RIGHT;
    let px = |v: f64| left + plot_w * ((v.ln() - lo.ln()) / (hi.ln() - lo.ln())).clamp(0.0, 1.0);
    for t in [0.5, 0.75, 1.0, 1.25, 1.5] {
        if t < lo || t > hi {
            continue;
        }
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="10" y2="{}" stroke="{}"/><text x="{x:.1}" y="{}" text-anchor="middle" class="tick">{t}</text>"##,
            h - 26.0,
            if t == 1.0 { "#333" } else { "#ddd" },
            h - 12.0,
            x = px(t)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 24.0 + 28.0 * i as f64;
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"#,
            left - 8.0,
            y + 4.0,
            esc(&r.label)
        );
        match r.estimate {
            Some((e, l, u)) => {
                let _ = write!(
                    out,
                    r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#1f4e79" stroke-width="2"/><rect x="{:.1}" y="{:.1}" width="8" height="8" fill="#1f4e79"/>"##,
                    px(l),
                    px(u),
                    px(e) - 4.0,
                    y - 4.0
                );
            }
            None => {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">reference</text>"#,
                    px(1.0),
                    y + 4.0
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}
