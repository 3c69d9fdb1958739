//! Standalone SVG figures of `lumbar stats`, drawn with the report's own
//! chart pieces ([`crate::svg`]) and style: Kaplan–Meier curves with their
//! 95% bands, censoring marks and a number-at-risk table under the plot
//! (as survminer's `ggsurvplot(fit, conf.int = TRUE, risk.table = TRUE)`),
//! and forest plots of model terms' ratios (hazard ratios, risk ratios) on
//! a log axis with a line at 1 and the numbers beside each row.
//!
//! Each figure is a whole SVG document (see [`svg::document`]): it opens
//! on its own in a browser and can be placed in a paper or a slide.

use lumbar_analysis::poisson::Coefficient;
use lumbar_analysis::survival::KmCurve;

use crate::svg::{self, Area, Axes, ForestLayout, ForestRow, LegendItem, Scale};

/// The width of every figure, in viewBox units (pixels at 100%).
const FIG_W: f64 = 720.0;
/// The right margin of every figure.
const FIG_RIGHT: f64 = 24.0;
/// Labels longer than this are cut (with an ellipsis) so that the plot
/// keeps its room; the figure's `<title>` and the data keep them whole.
const MAX_LABEL: usize = 32;

/// What a Kaplan–Meier figure shows.
pub struct KmFigure<'a> {
    /// The figure's title, shown above it and as its `<title>`.
    pub title: &'a str,
    /// The x axis's title: the time column (and its unit when known).
    pub x_title: &'a str,
    /// The column the curves are grouped by: labels read `group=value`, as
    /// survminer's; `None`: the curves' own names (an ungrouped curve is
    /// "All").
    pub group: Option<&'a str>,
    /// The curves, in the order of the legend and the table.
    pub curves: &'a [KmCurve],
}

/// The colour of the `i`th curve, from the report's series.
fn colour_of(i: usize) -> &'static str {
    svg::SERIES[i % svg::SERIES.len()]
}

/// The dash of the `i`th curve: it moves on by one each time the colours
/// start over, so that no two of the first 36 curves look the same.
fn dash_of(i: usize) -> &'static str {
    let n = svg::DASHES.len();
    svg::DASHES[(i + i / svg::SERIES.len()) % n]
}

/// The label of a curve in the legend and the number-at-risk table.
pub fn curve_label(group: Option<&str>, curve: &KmCurve) -> String {
    match (group, curve.group.as_deref()) {
        (Some(g), Some(v)) => format!("{g}={v}"),
        (None, Some(v)) => v.to_string(),
        (_, None) => "All".to_string(),
    }
}

/// The points a Kaplan–Meier curve's line goes through: `(start, 1)`,
/// then `(time, survival)` at each time with an event, and the time to
/// which the last value holds (the curve's last follow-up time).
pub fn km_line(curve: &KmCurve, start: f64) -> (Vec<(f64, f64)>, f64) {
    let mut points = vec![(start, 1.0)];
    points.extend(
        curve
            .steps
            .iter()
            .filter(|s| s.n_event > 0.0)
            .map(|s| (s.time, s.surv)),
    );
    let end = curve.steps.last().map_or(start, |s| s.time);
    (points, end)
}

/// The points of a curve's 95% band, `(time, lower, upper)` from
/// `(start, 1, 1)` at each event time, and where the band ends: the last
/// follow-up time, or the time the curve reaches 0, after which its CI is
/// undefined (survfit's NA) and no band is drawn.
pub fn km_band(curve: &KmCurve, start: f64) -> (Vec<(f64, f64, f64)>, f64) {
    let mut points = vec![(start, 1.0, 1.0)];
    for s in curve.steps.iter().filter(|s| s.n_event > 0.0) {
        if !(s.lower.is_finite() && s.upper.is_finite()) {
            return (points, s.time);
        }
        points.push((s.time, s.lower, s.upper));
    }
    (points, curve.steps.last().map_or(start, |s| s.time))
}

/// Where a curve's censoring marks go: `(time, survival)` at each time at
/// which anyone was censored (one mark a time, however many were).
pub fn censor_marks(curve: &KmCurve) -> Vec<(f64, f64)> {
    curve
        .steps
        .iter()
        .filter(|s| s.n_censor > 0.0)
        .map(|s| (s.time, s.surv))
        .collect()
}

/// The number at risk at time `t`, as survminer's risk table shows it
/// (`summary(fit, times = t, extend = TRUE)$n.risk`): those still followed
/// at `t` (follow-up ≥ t), so the `n_risk` of the curve's first time ≥ `t`,
/// and 0 after its last time.
pub fn at_risk(curve: &KmCurve, t: f64) -> f64 {
    curve.at(t).n_risk
}

/// The confidence level of intervals `low = exp(log_est − z·se)`, read
/// back from one (level = 1 − 2(1 − Φ(z))) and rounded to 0.1%, so that a
/// figure says the level its numbers have; `None` for an unusable one.
fn level_from(log_est: f64, log_low: f64, se: f64) -> Option<f64> {
    let z = (log_est - log_low) / se;
    // Coefficient::new gives p = 2(1 − Φ(|z|)) for an estimate z with SE 1.
    (z.is_finite() && z > 0.0)
        .then(|| ((1.0 - Coefficient::new("", z, 1.0).p_value) * 1000.0).round() / 1000.0)
}

/// The level of the curves' bands (survfit's 95% unless made otherwise),
/// read from the first step with a band.
pub fn km_level(curves: &[KmCurve]) -> Option<f64> {
    curves
        .iter()
        .flat_map(|c| &c.steps)
        .find_map(|s| level_from(s.surv.ln(), s.lower.ln(), s.std_err_log))
}

/// The level of the terms' intervals (95% unless `--conf-level` said
/// otherwise), read from the first term with one.
pub fn terms_level<'a>(terms: impl IntoIterator<Item = &'a Coefficient>) -> Option<f64> {
    terms
        .into_iter()
        .find_map(|t| level_from(t.estimate, t.conf_low.ln(), t.std_error))
}

/// "95%" for 0.95, "99.9%" for 0.999.
fn percent(level: f64) -> String {
    format!("{}%", num(level * 100.0, 1))
}

/// Round tick values from `lo` to `hi`: the multiples of 1, 2, 2.5 or 5
/// × 10^k in the range, the step giving nearest to five ticks (fewer on a
/// tie), as ggplot's default breaks; `[lo]` when the range is empty.
pub fn time_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    if hi <= lo {
        return vec![lo];
    }
    let e = ((hi - lo) / 4.0).log10().floor() as i32;
    // (distance from five ticks, ticks), and the step as m × 10^exp.
    let mut best: Option<((usize, usize), f64, i32)> = None;
    for exp in [e - 1, e, e + 1] {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let (first, last) = multiples_within(lo, hi, power_step(m, exp));
            if last < first {
                continue;
            }
            let count = (last - first + 1) as usize;
            let key = (count.abs_diff(5), count);
            if best.is_none_or(|b| key < b.0) {
                best = Some((key, m, exp));
            }
        }
    }
    match best {
        Some((_, m, exp)) => {
            let (first, last) = multiples_within(lo, hi, power_step(m, exp));
            (first..=last).map(|i| multiple(i, m, exp)).collect()
        }
        None => vec![lo],
    }
}

/// The first and last `i` with `i`·`step` in `lo..=hi`, with a hair of
/// slack so that a tick at exactly an end counts after rounding.
fn multiples_within(lo: f64, hi: f64, step: f64) -> (i64, i64) {
    (
        (lo / step - 1e-9).ceil() as i64,
        (hi / step + 1e-9).floor() as i64,
    )
}

/// `m` × 10^exp, divided rather than multiplied for negative powers so that
/// steps like 0.25 and 0.05 are the doubles nearest to them.
fn power_step(m: f64, exp: i32) -> f64 {
    if exp >= 0 {
        m * 10f64.powi(exp)
    } else {
        m / 10f64.powi(-exp)
    }
}

/// The `i`th multiple of the step `m` × 10^exp, as the double nearest to
/// it (`i`·`m` is exact), so that the multiple that is 1 is exactly 1.
fn multiple(i: i64, m: f64, exp: i32) -> f64 {
    power_step(i as f64 * m, exp)
}

/// A number with at most `decimals` decimals, trailing zeros dropped.
fn num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}

/// The Kaplan–Meier figure of `fig` as a standalone SVG document: one step
/// curve per stratum (in [`svg::SERIES`] colours and [`svg::DASHES`]
/// dashes), its 95% band shaded, `+` marks where follow-up was censored,
/// survival 0–1 against time from 0 (or the earliest time, if negative)
/// to the last follow-up, a legend, and under the plot the number at risk
/// of each stratum at each x tick ([`at_risk`]).
pub fn km(fig: &KmFigure<'_>) -> String {
    let labels: Vec<String> = fig
        .curves
        .iter()
        .map(|c| svg::shorten(&curve_label(fig.group, c), MAX_LABEL))
        .collect();
    let widest = labels
        .iter()
        .map(|l| svg::text_width(l, 11.0))
        .fold(0.0, f64::max);
    // The table's labels sit left of the plot, as survminer's y axis text.
    let left = (widest + 16.0).max(64.0);
    let mut body = String::new();
    title_text(&mut body, fig.title);
    let items: Vec<LegendItem<'_>> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| LegendItem {
            label: l,
            colour: colour_of(i),
            dash: dash_of(i),
        })
        .collect();
    let legend_y = svg::legend(&mut body, left, 50.0, FIG_W - FIG_RIGHT, &items);
    let area = Area {
        left,
        top: legend_y + 18.0,
        width: FIG_W - left - FIG_RIGHT,
        height: 280.0,
    };

    let first = fig
        .curves
        .iter()
        .filter_map(|c| c.steps.first().map(|s| s.time))
        .fold(0.0, f64::min);
    let start = first.min(0.0);
    let last = fig
        .curves
        .iter()
        .filter_map(|c| c.steps.last().map(|s| s.time))
        .fold(start, f64::max);
    let end = if last > start { last } else { start + 1.0 };
    let ticks = time_ticks(start, end);
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    // Enough decimals for the step (0.25 needs two), none for whole steps.
    let decimals = (-(step.log10().floor()) as i32 + 1).clamp(0, 6) as usize;
    let tick_fmt = move |t: f64| num(t, decimals);
    // 4% of room either side, as ggplot's expansion: a curve's start and
    // the table's first and last numbers stay clear of the axis and edge.
    let pad = area.width * 0.04;
    let x = Scale {
        from: (start, end),
        to: (area.left + pad, area.right() - pad),
    };
    let y = Scale {
        from: (0.0, 1.0),
        to: (area.bottom(), area.top),
    };
    svg::axes_in(
        &mut body,
        &area,
        &Axes {
            y_max: 1.0,
            y_ticks: &[0.0, 0.25, 0.5, 0.75, 1.0],
            y_fmt: &|v| format!("{v:.2}"),
            x_title: fig.x_title,
            y_title: "Survival probability",
        },
    );
    svg::x_ticks(&mut body, &area, &x, &ticks, &tick_fmt);

    // Bands first, so that every line is drawn over every band.
    for (i, c) in fig.curves.iter().enumerate() {
        let (points, band_end) = km_band(c, start);
        body.push_str(&format!(
            r#"<path class="km-band" d="{}" fill="{}" fill-opacity="0.15" stroke="none"/>"#,
            svg::step_band_path(&points, band_end, &x, &y),
            colour_of(i)
        ));
    }
    for (i, c) in fig.curves.iter().enumerate() {
        let colour = colour_of(i);
        let (points, line_end) = km_line(c, start);
        body.push_str(&format!(
            r#"<path class="km-line" d="{}" fill="none" stroke="{colour}" stroke-width="2"{}/>"#,
            svg::step_path(&points, line_end, &x, &y),
            svg::dash_attr(dash_of(i))
        ));
        svg::plus_marks(&mut body, "km-censor", &censor_marks(c), &x, &y, colour);
    }

    // The number-at-risk table, its columns under the x ticks.
    let table_top = area.bottom() + 66.0;
    // What the shading and the marks are, on the table's heading line,
    // right-aligned, clear of the heading.
    body.push_str(&format!(
        r##"<text x="{}" y="{table_top}" text-anchor="end" class="tick" fill="#5a5a5a">Shaded: {} confidence band; +: censored</text>"##,
        area.right(),
        percent(km_level(fig.curves).unwrap_or(0.95))
    ));
    body.push_str(&format!(
        r#"<g class="risk-table"><text x="16" y="{table_top}" class="axis" font-weight="600">Number at risk</text>"#
    ));
    for (i, c) in fig.curves.iter().enumerate() {
        let row_y = table_top + 20.0 + 18.0 * i as f64;
        body.push_str(&format!(
            r#"<text x="{}" y="{row_y}" text-anchor="end" class="tick risk-label" fill="{}">{}</text>"#,
            area.left - 8.0,
            colour_of(i),
            crate::esc(&labels[i])
        ));
        for &t in &ticks {
            body.push_str(&format!(
                r#"<text x="{:.1}" y="{row_y}" text-anchor="middle" class="tick risk-n">{}</text>"#,
                x.at(t),
                num(at_risk(c, t), 1)
            ));
        }
    }
    body.push_str("</g>");
    let height = table_top + 20.0 + 18.0 * fig.curves.len().saturating_sub(1) as f64 + 14.0;
    svg::document(fig.title, FIG_W, height, &body)
}

/// A figure's visible title, top left, in the report's accent colour.
fn title_text(body: &mut String, title: &str) {
    body.push_str(&format!(
        r##"<text x="16" y="24" class="axis" font-size="15" font-weight="600" fill="#1f4e79">{}</text>"##,
        crate::esc(&svg::shorten(title, 72))
    ));
}

/// A ratio as written beside a forest row: two decimals from 0.1 (fewer
/// from 10), two significant digits below.
pub fn ratio_text(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_string();
    }
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 0.1 || v <= 0.0 {
        format!("{v:.2}")
    } else {
        let decimals = (1 - v.log10().floor() as i32).clamp(2, 12) as usize;
        format!("{v:.decimals$}")
    }
}

/// The log axis's ticks from `lo` to `hi` (`lo` ≤ 1 ≤ `hi`): the finest of
/// the per-decade sets 1; 1, 2, 5; 1, 1.5, 2, 3, 5, 7; and 1, 1.25, 1.5, 2,
/// 2.5, 3, …, 9 that gives at most 7 ticks none closer than a twelfth of
/// the axis; if even the finest gives fewer than 3 (a narrow range), round
/// linear steps. 1 is always among them.
pub fn ratio_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const SETS: [&[f64]; 4] = [
        &[1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
        &[1.0, 2.0, 5.0],
        &[1.0],
    ];
    if !(lo > 0.0 && hi.is_finite() && lo < hi) {
        return vec![1.0];
    }
    let span = hi.ln() - lo.ln();
    // A decade more each side: log10 of an exact power of ten may round
    // below it, and ticks outside the range are dropped anyway.
    let (e0, e1) = (lo.log10().floor() as i32 - 1, hi.log10().floor() as i32 + 1);
    let in_set = |set: &[f64]| -> Vec<f64> {
        let mut ticks = Vec::new();
        for exp in e0..=e1 {
            for &m in set {
                let t = power_step(m, exp);
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
        }
        ticks
    };
    let finest = in_set(SETS[0]);
    if finest.len() < 3 {
        // Round linear steps, about four across the range; 1 is a multiple
        // of each such step below 1.
        let e = ((hi - lo) / 4.0).log10().floor() as i32;
        let (m, exp) = [1.0, 2.0, 2.5, 5.0]
            .iter()
            .map(|&m| (m, e))
            .find(|&(m, e)| (hi - lo) / power_step(m, e) <= 6.0)
            .unwrap_or((1.0, e + 1));
        let (first, last) = multiples_within(lo, hi, power_step(m, exp));
        return (first..=last).map(|i| multiple(i, m, exp)).collect();
    }
    for set in SETS {
        let ticks = in_set(set);
        let close = ticks
            .windows(2)
            .any(|w| (w[1].ln() - w[0].ln()) < span / 12.0);
        if ticks.len() <= 7 && !close {
            return ticks;
        }
    }
    in_set(SETS[3])
}

/// A tick of the ratio axis as written: up to three decimals, trailing
/// zeros dropped (0.5, 1, 1.25, 0.025).
fn ratio_tick(v: f64) -> String {
    num(v, 3)
}

/// The reading of a ratio's short name on the axis.
fn ratio_name(ratio: &str) -> &str {
    match ratio {
        "HR" => "Hazard ratio",
        "RR" => "Risk ratio",
        "OR" => "Odds ratio",
        other => other,
    }
}

/// The forest plot of `terms` as a standalone SVG document: one row per
/// term (the intercept left out: it is a baseline, not a ratio), its
/// ratio (`exp_estimate`) as a square and its 95% CI as a line on a log
/// axis with a dark line at 1, and beside each row `ratio (low–high)`
/// under the heading `{ratio} (95% CI)` (the level the intervals have,
/// [`terms_level`]). A term whose numbers are not
/// finite is drawn as "not estimable"; a CI past the axis (kept within
/// 0.001–1000) ends in an arrow head.
pub fn forest(title: &str, ratio: &str, terms: &[Coefficient]) -> String {
    let terms: Vec<&Coefficient> = terms.iter().filter(|t| t.term != "(Intercept)").collect();
    let estimable = |t: &Coefficient| {
        [t.exp_estimate, t.conf_low, t.conf_high]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
    };
    let rows: Vec<ForestRow> = terms
        .iter()
        .map(|t| ForestRow {
            label: svg::shorten(&t.term, MAX_LABEL),
            estimate: estimable(t).then_some((t.exp_estimate, t.conf_low, t.conf_high)),
        })
        .collect();
    let texts: Vec<String> = terms
        .iter()
        .map(|t| {
            if estimable(t) {
                format!(
                    "{} ({}–{})",
                    ratio_text(t.exp_estimate),
                    ratio_text(t.conf_low),
                    ratio_text(t.conf_high)
                )
            } else {
                "–".to_string()
            }
        })
        .collect();
    let (mut lo, mut hi) = (1.0f64, 1.0f64);
    for t in terms.iter().filter(|t| estimable(t)) {
        lo = lo.min(t.conf_low);
        hi = hi.max(t.conf_high);
    }
    // A little room beyond the widest CI, and never a degenerate axis.
    let (lo, hi) = (lo.max(1e-3), hi.min(1e3));
    let pad = ((hi.ln() - lo.ln()) * 0.05).max(0.05).exp();
    let (lo, hi) = (lo / pad, hi * pad);
    let ticks = ratio_ticks(lo, hi);
    let heading = format!(
        "{ratio} ({} CI)",
        percent(terms_level(terms.iter().copied()).unwrap_or(0.95))
    );
    let label_w = rows
        .iter()
        .map(|r| svg::text_width(&r.label, 11.0))
        .fold(svg::text_width("Term", 12.0), f64::max)
        + 24.0;
    let text_w = texts
        .iter()
        .map(|t| svg::text_width(t, 11.0))
        .fold(svg::text_width(&heading, 12.0), f64::max)
        + 24.0;
    let layout = ForestLayout {
        width: FIG_W,
        label_w: label_w.max(96.0),
        text_w,
        first_row: 78.0,
        row_h: 26.0,
        lo,
        hi,
        ticks: &ticks,
        tick_fmt: &ratio_tick,
        none_text: "not estimable",
        arrows: true,
    };
    let mut body = String::new();
    title_text(&mut body, title);
    body.push_str(&format!(
        r#"<text x="{}" y="52" text-anchor="end" class="axis" font-weight="600">Term</text><text x="{}" y="52" text-anchor="end" class="axis" font-weight="600">{}</text>"#,
        layout.label_w - 8.0,
        FIG_W - FIG_RIGHT + 8.0,
        crate::esc(&heading)
    ));
    svg::forest_in(&mut body, &rows, &texts, &layout);
    let axis_y = layout.tick_label_y(rows.len()) + 22.0;
    let plot_mid = (layout.x(lo) + layout.x(hi)) / 2.0;
    body.push_str(&format!(
        r#"<text x="{plot_mid:.1}" y="{axis_y}" text-anchor="middle" class="axis">{} (log scale)</text>"#,
        crate::esc(ratio_name(ratio))
    ));
    svg::document(title, FIG_W, axis_y + 14.0, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumbar_analysis::survival::kaplan_meier;

    /// The value of `attr` in each element of `svg` that has `class`.
    fn attrs(svg: &str, class: &str, attr: &str) -> Vec<String> {
        let mut out = Vec::new();
        let needle = format!("class=\"{class}\"");
        for (i, _) in svg.match_indices(&needle) {
            let open = svg[..i].rfind('<').unwrap_or(0);
            let close = i + svg[i..].find('>').unwrap_or(0);
            let tag = &svg[open..close];
            let key = format!(" {attr}=\"");
            if let Some(k) = tag.find(&key) {
                let rest = &tag[k + key.len()..];
                out.push(rest[..rest.find('"').unwrap_or(0)].to_string());
            }
        }
        out
    }

    /// The text of each element of `svg` with `class`.
    fn texts(svg: &str, class: &str) -> Vec<String> {
        let needle = format!("class=\"{class}\"");
        svg.match_indices(&needle)
            .map(|(i, _)| {
                let from = i + svg[i..].find('>').unwrap_or(0) + 1;
                svg[from..from + svg[from..].find('<').unwrap_or(0)].to_string()
            })
            .collect()
    }

    /// A term whose 95% Wald interval is `l`–`u` (so its ratio is √(lu)).
    fn coef(term: &str, l: f64, u: f64) -> Coefficient {
        let se = (u / l).ln() / (2.0 * 1.959_963_984_540_054);
        Coefficient {
            exp_estimate: (l * u).sqrt(),
            conf_low: l,
            conf_high: u,
            ..Coefficient::new(term, (l * u).sqrt().ln(), se)
        }
    }

    fn three_point() -> KmCurve {
        // Times 1 (event), 2 (censored), 3 (event): S = 2/3 from 1, 0 at 3.
        kaplan_meier(&[1.0, 2.0, 3.0], &[true, false, true], None, None)
    }

    /// The step path of a known three-point curve passes through the
    /// coordinates worked out by hand from the layout: the plot spans
    /// x 64–696 (4% padding: 89.28–670.72 for times 0–3) and y 86–366.
    #[test]
    fn a_three_point_curve_steps_through_the_right_coordinates() {
        let c = three_point();
        let (points, end) = km_line(&c, 0.0);
        assert_eq!(points, vec![(0.0, 1.0), (1.0, 1.0 - 1.0 / 3.0), (3.0, 0.0)]);
        assert_eq!(end, 3.0);
        let svg = km(&KmFigure {
            title: "t",
            x_title: "days",
            group: None,
            curves: &[c],
        });
        // One legend row at y 50, so the plot's top is 68, its bottom 348:
        // S = 1 at 68, 2/3 at 348 − 280·2/3 = 161.3, 0 at 348; t = 1 at
        // 89.28 + 581.44/3 = 283.1, t = 3 at 670.7.
        assert_eq!(
            attrs(&svg, "km-line", "d"),
            vec!["M89.3,68.0 H283.1 V161.3 H670.7 V348.0 H670.7"]
        );
        // The band stops where S reaches 0 (its CI is NA there): up to t = 3.
        let band = attrs(&svg, "km-band", "d");
        assert_eq!(band.len(), 1);
        assert!(band[0].starts_with("M89.3,68.0 H283.1 V"), "{}", band[0]);
        assert!(band[0].ends_with(" V68.0 H89.3 Z"), "{}", band[0]);
        // Ticks 0, 1, 2, 3 (step 1: four ticks, nearest to five).
        assert_eq!(time_ticks(0.0, 3.0), vec![0.0, 1.0, 2.0, 3.0]);
        // One censoring mark, at t = 2 on S = 2/3: x 89.28 + 2·193.81 = 476.9.
        assert_eq!(
            attrs(&svg, "km-censor", "d"),
            vec!["M472.9,161.3 h8 M476.9,157.3 v8"]
        );
    }

    /// The risk table holds, at each tick, survminer's number at risk: the
    /// number still followed at the tick (n_risk of the first time ≥ it),
    /// not the n_risk of the last time before it.
    #[test]
    fn the_number_at_risk_at_each_tick_is_survminers() {
        // Follow-up 1, 3, 3, 5, 9, 9, 12; events at 1, 3, 9.
        let c = kaplan_meier(
            &[1.0, 3.0, 3.0, 5.0, 9.0, 9.0, 12.0],
            &[true, true, false, false, true, false, false],
            None,
            Some("a".into()),
        );
        assert_eq!(time_ticks(0.0, 12.0), vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        let at: Vec<f64> = [0.0, 2.5, 5.0, 7.5, 10.0]
            .iter()
            .map(|&t| at_risk(&c, t))
            .collect();
        // ≥0: 7; ≥2.5: 6; ≥5: 4; ≥7.5: 3; ≥10: 1. (At 7.5 the last time
        // before it, 5, had 4 at risk: the wrong rule would say 4.)
        assert_eq!(at, vec![7.0, 6.0, 4.0, 3.0, 1.0]);
        assert_eq!(at_risk(&c, 12.5), 0.0);
        let svg = km(&KmFigure {
            title: "t",
            x_title: "weeks",
            group: Some("arm"),
            curves: &[c],
        });
        assert_eq!(texts(&svg, "tick risk-n"), vec!["7", "6", "4", "3", "1"]);
        assert_eq!(texts(&svg, "tick risk-label"), vec!["arm=a"]);
        // The table's columns sit under the x ticks.
        let tick_x: Vec<String> = svg
            .match_indices("text-anchor=\"middle\" class=\"tick\">")
            .map(|(i, _)| {
                let tag = &svg[svg[..i].rfind('<').unwrap_or(0)..i];
                tag.split("x=\"")
                    .nth(1)
                    .unwrap_or("")
                    .split('"')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        let risk_x = attrs(&svg, "tick risk-n", "x");
        assert_eq!(tick_x, risk_x);
        // Censoring marks: one a time with a censoring (3, 5, 9, 12), each
        // two strokes.
        assert_eq!(censor_marks(&three_point()), vec![(2.0, 1.0 - 1.0 / 3.0)]);
        let marks = attrs(&svg, "km-censor", "d");
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].matches('M').count(), 2 * 4);
    }

    /// Curves past the sixth reuse a colour with another dash.
    #[test]
    fn the_seventh_curve_differs_from_the_first() {
        assert_eq!((colour_of(0), dash_of(0)), ("#1f4e79", ""));
        assert_eq!((colour_of(6), dash_of(6)), ("#1f4e79", "6 3"));
        let looks: std::collections::HashSet<_> =
            (0..36).map(|i| (colour_of(i), dash_of(i))).collect();
        assert_eq!(looks.len(), 36);
    }

    /// Two strata: two bands, two lines, two table rows, in the series'
    /// colours; the figure is a standalone SVG with its title escaped.
    #[test]
    fn two_strata_make_two_curves_and_a_standalone_document() {
        let a = kaplan_meier(
            &[2.0, 4.0, 6.0, 8.0],
            &[true, false, true, true],
            None,
            Some("1".into()),
        );
        let b = kaplan_meier(
            &[1.0, 5.0, 9.0],
            &[false, true, false],
            None,
            Some("2".into()),
        );
        let svg = km(&KmFigure {
            title: "KM <by> \"sex\" & more",
            x_title: "days",
            group: Some("sex"),
            curves: &[a, b],
        });
        assert!(
            svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="720" height=""#),
            "{}",
            &svg[..120]
        );
        assert!(svg.contains(r#" viewBox="0 0 720 "#));
        assert!(svg.contains("<title>KM &lt;by&gt; &quot;sex&quot; &amp; more</title>"));
        assert!(svg.ends_with("</svg>"));
        for bad in ["<script", "href", "url(", "<by>", "@import"] {
            assert!(!svg.contains(bad), "{bad}");
        }
        assert_eq!(attrs(&svg, "km-line", "d").len(), 2);
        assert_eq!(attrs(&svg, "km-band", "d").len(), 2);
        assert_eq!(attrs(&svg, "km-line", "stroke"), vec!["#1f4e79", "#c0392b"]);
        assert_eq!(texts(&svg, "tick risk-label"), vec!["sex=1", "sex=2"]);
        // Ticks 0, 2, 4, 6, 8 over 0–9: at risk ≥ t.
        assert_eq!(
            texts(&svg, "tick risk-n"),
            vec!["4", "4", "3", "2", "1", "3", "2", "2", "1", "1"]
        );
        // The report's fonts and tick style come with it.
        assert!(svg.contains("<style>svg { font-family: system-ui,"));
        assert!(svg.contains("svg .tick { font-size: 11px; fill: #333; }"));
    }

    /// The forest's axis is logarithmic: equal ratios are equal distances,
    /// the dark line at 1 is where ln 1 falls, halfway across an axis
    /// symmetric about 1.
    #[test]
    fn the_forest_axis_is_log_with_its_line_at_one() {
        // CIs 0.25–1 and 1–4, so the axis (5% of room beyond each end)
        // is symmetric about 1.
        let svg = forest(
            "Cox",
            "HR",
            &[
                coef("(Intercept)", 0.9, 1.3),
                coef("a", 0.25, 1.0),
                coef("b", 1.0, 4.0),
            ],
        );
        let pad = (16f64.ln() * 0.05).exp();
        assert_eq!(
            ratio_ticks(0.25 / pad, 4.0 * pad),
            vec![0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0]
        );
        let one: Vec<&str> = svg
            .match_indices(r##"stroke="#333""##)
            .map(|(i, _)| {
                let tag = &svg[svg[..i].rfind('<').unwrap_or(0)..i];
                tag.split("x1=\"")
                    .nth(1)
                    .unwrap_or("")
                    .split('"')
                    .next()
                    .unwrap_or("")
            })
            .collect();
        assert_eq!(one.len(), 1, "{svg}");
        let x1: f64 = one[0].parse().unwrap_or(f64::NAN);
        // The axis runs from the label column to the numbers' column.
        let left = 96.0;
        let right = 720.0 - 16.0 - (svg::text_width("2.00 (1.00–4.00)", 11.0) + 24.0);
        assert!(
            (x1 - (left + right) / 2.0).abs() < 0.06,
            "{x1} vs {}",
            (left + right) / 2.0
        );
        // Squares at 0.5 and 2 are equally far from 1 (8 units wide).
        let squares: Vec<f64> = svg
            .match_indices("<rect x=\"")
            .skip(1) // the background
            .map(|(i, _)| {
                svg[i + 9..]
                    .split('"')
                    .next()
                    .unwrap_or("")
                    .parse::<f64>()
                    .unwrap_or(f64::NAN)
                    + 4.0
            })
            .collect();
        assert_eq!(squares.len(), 2);
        assert!(
            ((x1 - squares[0]) - (squares[1] - x1)).abs() < 0.15,
            "{squares:?}"
        );
        // The intercept is left out; the numbers are beside the rows.
        assert!(!svg.contains("(Intercept)"));
        assert!(svg.contains(">0.50 (0.25–1.00)</text>"));
        assert!(svg.contains(">2.00 (1.00–4.00)</text>"));
        assert!(svg.contains(">HR (95% CI)</text>"));
        assert!(svg.contains(">Hazard ratio (log scale)</text>"));
    }

    /// The log axis's ticks: coarser sets over wider ranges, linear steps
    /// over a narrow one, 1 always exactly among them.
    #[test]
    fn ratio_ticks_suit_the_range() {
        assert_eq!(
            ratio_ticks(0.6, 1.7),
            vec![0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5]
        );
        assert_eq!(ratio_ticks(0.05, 30.0), vec![0.1, 1.0, 10.0]);
        assert_eq!(
            ratio_ticks(0.95, 1.08),
            vec![0.95, 0.975, 1.0, 1.025, 1.05, 1.075]
        );
        assert_eq!(
            ratio_ticks(0.001, 1000.0),
            vec![0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
        );
        assert_eq!(ratio_tick(0.975), "0.975");
        assert_eq!(ratio_text(0.0123), "0.012");
        assert_eq!(ratio_text(1.234), "1.23");
        assert_eq!(ratio_text(12.34), "12.3");
    }

    /// The figures say the level their intervals have: 95% from the
    /// estimators, 90% after `--conf-level 0.9`.
    #[test]
    fn the_level_is_read_from_the_intervals() {
        assert_eq!(km_level(&[three_point()]), Some(0.95));
        let t = coef("a", 0.8, 1.5);
        assert_eq!(terms_level([&t]), Some(0.95));
        let z90 = 1.644_853_626_951_472_2;
        let t90 = Coefficient {
            conf_low: (t.estimate - z90 * t.std_error).exp(),
            conf_high: (t.estimate + z90 * t.std_error).exp(),
            ..t.clone()
        };
        assert_eq!(terms_level([&t90]), Some(0.9));
        assert!(forest("f", "RR", &[t90]).contains(">RR (90% CI)</text>"));
        assert!(forest("f", "RR", &[t]).contains(">RR (95% CI)</text>"));
        let svg = km(&KmFigure {
            title: "t",
            x_title: "d",
            group: None,
            curves: &[three_point()],
        });
        assert!(svg.contains(">Shaded: 95% confidence band; +: censored</text>"));
    }

    /// Hostile term names and titles are escaped text, never markup.
    #[test]
    fn hostile_names_are_escaped() {
        let c = coef("<script>alert(1)</script>", 1.0, 1.5);
        let d = Coefficient {
            term: "\"&'".into(),
            ..c.clone()
        };
        let svg = forest("a</title><script>x", "RR", &[c, d]);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("<title>a&lt;/title&gt;&lt;script&gt;x</title>"));
        assert!(svg.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</text>"));
        assert!(svg.contains(">&quot;&amp;&#39;</text>"));
        let km_svg = km(&KmFigure {
            title: "t",
            x_title: "<x>",
            group: Some("\"g\"&"),
            curves: &[kaplan_meier(&[1.0], &[true], None, Some("<v>".into()))],
        });
        assert!(km_svg.contains(">&quot;g&quot;&amp;=&lt;v&gt;</text>"));
        assert!(km_svg.contains(">&lt;x&gt;</text>"));
        assert!(!km_svg.contains("<v>") && !km_svg.contains("<x>"));
    }
}
