//! Three chart primitives the programme sections need beyond
//! [`crate::svg`]'s: bars with a horizontal reference level (adherence by
//! week with its 70% line), a step curve (the dropout curve) and columns
//! of stacked shares with a legend (dose against the range, ladder rungs by
//! week). Same frame, sizes and classes as `svg`'s charts, so they sit
//! beside them unchanged on screen and in print.

use std::fmt::Write;

use crate::esc;
use crate::svg::{Axes, BOTTOM, Bar, H, LEFT, RIGHT, TOP, W, framed};

const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;

/// A dashed horizontal line at `value` with its label at the right end.
fn level(out: &mut String, a: &Axes<'_>, value: f64, text: &str) {
    let y = TOP + PLOT_H * (1.0 - (value / a.y_max).clamp(0.0, 1.0));
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#c0392b" stroke-dasharray="4 3"/><text x="{}" y="{:.1}" text-anchor="end" class="mark">{}</text>"##,
        W - RIGHT,
        W - RIGHT - 2.0,
        y - 4.0,
        esc(text)
    );
}

/// Every how many'th of `n` labels along the x axis fits (about 26 do).
fn label_step(n: usize) -> usize {
    n.div_ceil(26).max(1)
}

/// Vertical bars from 0 to `ax.y_max` with a horizontal reference level
/// (`(value, label)`). A bar without a value is a hidden cell, drawn as a
/// grey marker with its text (`–`). With many bars, every k-th is
/// labelled and values are left to the table beside the chart.
pub fn bars_with_level(label: &str, bars: &[Bar], ax: &Axes<'_>, mark: (f64, &str)) -> String {
    let mut out = framed(label, ax);
    let n = bars.len().max(1);
    let slot = PLOT_W / n as f64;
    let step = label_step(n);
    let values = n <= 16;
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let bw = slot * 0.7;
        match b.value {
            Some(v) => {
                let h = PLOT_H * (v / ax.y_max).clamp(0.0, 1.0);
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}" fill="#3b6ea5"/>"##,
                    H - BOTTOM - h
                );
                if values && !b.text.is_empty() {
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
                    esc(if b.text.is_empty() { "–" } else { &b.text })
                );
            }
        }
        if i % step == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                x + bw / 2.0,
                H - BOTTOM + 16.0,
                esc(&b.label)
            );
        }
    }
    level(&mut out, ax, mark.0, mark.1);
    out.push_str("</svg>");
    out
}

/// One step of a step curve: the value from `x` on.
pub struct Step {
    pub x: f64,
    pub y: f64,
}

/// A step curve over `0 … x_max` (e.g. the share still logging by week):
/// each step holds its value until the next; the curve ends at `end`
/// (where what follows is not shown).
pub fn steps(label: &str, points: &[Step], end: f64, x_max: f64, ax: &Axes<'_>) -> String {
    let mut out = framed(label, ax);
    let x_max = x_max.max(1.0);
    let px = |x: f64| LEFT + PLOT_W * (x / x_max).clamp(0.0, 1.0);
    let py = |y: f64| TOP + PLOT_H * (1.0 - (y / ax.y_max).clamp(0.0, 1.0));
    let tick = (x_max / 12.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="tick">{t:.0}</text>"#,
            px(t),
            H - BOTTOM + 16.0
        );
        t += tick;
    }
    if let Some(first) = points.first() {
        let mut path = format!("M{:.1},{:.1}", px(first.x), py(first.y));
        let mut y = first.y;
        for p in &points[1..] {
            let _ = write!(path, " H{:.1} V{:.1}", px(p.x), py(p.y));
            y = p.y;
        }
        let _ = write!(path, " H{:.1}", px(end));
        let _ = write!(
            out,
            r##"<path d="{path}" fill="none" stroke="#1f4e79" stroke-width="2"/><circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#1f4e79"/>"##,
            px(end),
            py(y)
        );
    }
    out.push_str("</svg>");
    out
}

/// One column of stacked shares: its label, and the shares (percent,
/// adding up to 100) of each series, or `None` for a column whose counts
/// are hidden (drawn as a grey marker with `–`).
pub struct Stack {
    pub label: String,
    pub shares: Option<Vec<f64>>,
}

/// Columns of stacked shares from 0 to 100%, one colour per series, with a
/// legend of the series above the plot. With many columns every k-th is
/// labelled.
pub fn stacked(
    label: &str,
    columns: &[Stack],
    series: &[(&str, &str)],
    x_title: &str,
    y_title: &str,
) -> String {
    // The legend's rows first: they push the plot down.
    let mut legend = String::new();
    let (mut x, mut y) = (LEFT, 14.0);
    for (name, colour) in series {
        let w = 16.0 + crate::svg::text_width(name, 11.0);
        if x > LEFT && x + w > W - RIGHT {
            x = LEFT;
            y += 16.0;
        }
        let _ = write!(
            legend,
            r##"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}" class="tick">{}</text>"##,
            y - 9.0,
            esc(colour),
            x + 14.0,
            esc(name)
        );
        x += w + 14.0;
    }
    let top = y + 10.0;
    let plot_h = H - top - BOTTOM;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(label)
    );
    out.push_str(&legend);
    for t in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let ty = top + plot_h * (1.0 - t / 100.0);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{t:.0}%</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            ty + 4.0
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{top:.1}" y2="{}" stroke="#333"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle" class="axis">{}</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
        LEFT + PLOT_W / 2.0,
        H - 8.0,
        esc(x_title),
        top + plot_h / 2.0,
        esc(y_title)
    );
    let n = columns.len().max(1);
    let slot = PLOT_W / n as f64;
    let step = label_step(n);
    for (i, c) in columns.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let bw = slot * 0.7;
        match &c.shares {
            Some(shares) => {
                let mut base = H - BOTTOM;
                for (k, v) in shares.iter().enumerate() {
                    let h = plot_h * (v / 100.0).clamp(0.0, 1.0);
                    if h <= 0.0 {
                        continue;
                    }
                    let colour = series.get(k).map_or("#999", |s| s.1);
                    let _ = write!(
                        out,
                        r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{h:.1}" fill="{}"/>"##,
                        base - h,
                        esc(colour)
                    );
                    base -= h;
                }
            }
            None => {
                let _ = write!(
                    out,
                    r##"<rect x="{x:.1}" y="{:.1}" width="{bw:.1}" height="3" fill="#999"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="val">–</text>"##,
                    H - BOTTOM - 3.0,
                    x + bw / 2.0,
                    H - BOTTOM - 8.0
                );
            }
        }
        if i % step == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                x + bw / 2.0,
                H - BOTTOM + 16.0,
                esc(&c.label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes<'a>(fmt: &'a dyn Fn(f64) -> String) -> Axes<'a> {
        Axes {
            y_max: 100.0,
            y_ticks: &[0.0, 50.0, 100.0],
            y_fmt: fmt,
            x_title: "week",
            y_title: "share",
        }
    }

    #[test]
    fn the_level_line_sits_at_its_value() {
        let fmt = |t: f64| format!("{t:.0}%");
        let bars = [Bar {
            label: "0".into(),
            value: Some(50.0),
            text: "50%".into(),
        }];
        let svg = bars_with_level("x", &bars, &axes(&fmt), (70.0, "70%"));
        // 70% of the plot height (196) from its bottom (212): y = 74.8.
        assert!(
            svg.contains(r##"y1="74.8" y2="74.8" stroke="#c0392b""##),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn a_step_curve_holds_each_value_until_the_next() {
        let fmt = |t: f64| format!("{t:.0}");
        let svg = steps(
            "x",
            &[Step { x: 0.0, y: 100.0 }, Step { x: 2.0, y: 50.0 }],
            4.0,
            4.0,
            &axes(&fmt),
        );
        // From (0, 100%) along to week 2, down to 50%, along to week 4.
        assert!(
            svg.contains(r#"d="M56.0,16.0 H340.0 V114.0 H624.0""#),
            "{svg}"
        );
    }

    #[test]
    fn stacked_shares_fill_the_plot_from_the_bottom() {
        let cols = [
            Stack {
                label: "a".into(),
                shares: Some(vec![25.0, 75.0]),
            },
            Stack {
                label: "b".into(),
                shares: None,
            },
        ];
        let svg = stacked("x", &cols, &[("low", "#111"), ("high", "#222")], "x", "y");
        // One legend row: the plot from y = 24 to 212 (188 high). The first
        // share is a quarter of it (47) at the bottom, the second above.
        assert!(
            svg.contains(r##"y="165.0" width="198.8" height="47.0" fill="#111""##),
            "{svg}"
        );
        assert!(
            svg.contains(r##"y="24.0" width="198.8" height="141.0" fill="#222""##),
            "{svg}"
        );
        // The hidden column is a marker.
        assert!(svg.contains(r#"class="val">–</text>"#));
    }
}
