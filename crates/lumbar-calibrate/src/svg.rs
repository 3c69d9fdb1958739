//! `fit.svg`: each target observed against simulated, on one scale.
//!
//! Targets have different units (NRS points, shares, events per 100
//! sessions), so each is drawn in its own observed SEs: the observed value
//! at 0 with its 90% interval (±1.645), and the simulated value with its
//! interval as `(x − observed) / se`. A fit is good where the simulated
//! intervals cross the observed band. The raw values are printed beside.

use crate::Fit;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The figure as a standalone SVG document.
pub fn fit_svg(fit: &Fit) -> String {
    const ROW: f64 = 18.0;
    const LABEL: f64 = 290.0;
    const PLOT: f64 = 360.0;
    const VALUES: f64 = 230.0;
    const TOP: f64 = 40.0;
    let rows = fit.targets.len().max(1) as f64;
    let height = TOP + rows * ROW + 40.0;
    let width = LABEL + PLOT + VALUES;
    // The axis covers ±4 SE, and further if a simulated interval needs it (to ±20).
    let z = |x: f64, o: f64, se: f64| (x - o) / se;
    let reach = fit
        .targets
        .iter()
        .flat_map(|t| [z(t.lower, t.observed, t.se), z(t.upper, t.observed, t.se)])
        .filter(|v| v.is_finite())
        .fold(4.0f64, |a, v| a.max(v.abs()))
        .min(20.0)
        .ceil();
    let x_of = |v: f64| LABEL + PLOT * (v.clamp(-reach, reach) + reach) / (2.0 * reach);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <title>Calibration targets: observed against simulated ({})</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"8\" y=\"16\" font-size=\"13\">Observed (grey band: 90% interval) against simulated (dot and line), in observed SEs — {}</text>\n",
        escape(&fit.diagnostics.method),
        escape(&fit.diagnostics.method)
    );
    let band = (x_of(-1.645), x_of(1.645));
    s += &format!(
        "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#ddd\"/>\n",
        band.0,
        band.1 - band.0,
        rows * ROW
    );
    s += &format!(
        "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{TOP}\" y2=\"{1:.1}\" stroke=\"#888\"/>\n",
        x_of(0.0),
        TOP + rows * ROW
    );
    for tick in [-reach, -reach / 2.0, 0.0, reach / 2.0, reach] {
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{tick:+}</text>\n",
            x_of(tick),
            TOP + rows * ROW + 14.0
        );
    }
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">(simulated − observed) / observed SE</text>\n",
        x_of(0.0),
        TOP + rows * ROW + 30.0
    );
    s += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\">observed · simulated</text>\n",
        LABEL + PLOT + 8.0,
        TOP - 6.0
    );
    for (i, t) in fit.targets.iter().enumerate() {
        let y = TOP + (i as f64 + 0.5) * ROW;
        let (lo, mid, hi) = (
            z(t.lower, t.observed, t.se),
            z(t.simulated, t.observed, t.se),
            z(t.upper, t.observed, t.se),
        );
        let outside = lo > 1.645 || hi < -1.645;
        let colour = if outside { "#c0392b" } else { "#1f5fa8" };
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            LABEL - 8.0,
            y + 4.0,
            escape(&t.name)
        );
        if lo.is_finite() && hi.is_finite() {
            s += &format!(
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\n",
                x_of(lo),
                x_of(hi)
            );
        }
        if mid.is_finite() {
            s += &format!(
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"/>\n",
                x_of(mid)
            );
        }
        s += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\">{} · {}</text>\n",
            LABEL + PLOT + 8.0,
            y + 4.0,
            short(t.observed),
            short(t.simulated)
        );
    }
    s + "</svg>\n"
}

fn short(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}
