//! Numbers printed as R prints them, so a summary reads as R's does.
//!
//! - [`format_real`]: R's `format(x, digits = d)` on a vector (C function
//!   `formatReal`): each value needs the fewest significant digits (at most
//!   `d`) that show it to `d` digits; the vector shares one layout, fixed
//!   with as many decimals as its most demanding value needs, or
//!   scientific when that is narrower;
//! - [`format_pval`]: `format.pval`: values under 1e-3 and the rest
//!   formatted apart, anything below machine epsilon as `<2e-16`;
//! - [`stars`]: `printCoefmat`'s significance codes;
//! - [`CoefTable`]: a matrix printed with its row names, right-aligned;
//! - [`coef_block`], [`ratio_block`]: the two tables of a regression's
//!   `summary()` (`printCoefmat`'s, and the `exp(coef)` one).

use std::io::Write;

use anyhow::Result;
use lumbar_stats::poisson::Coefficient;

/// One value's needs: significant digits, decimal exponent, sign.
fn needs(x: f64, digits: usize) -> (usize, i32, bool) {
    if x == 0.0 {
        return (1, 0, false);
    }
    let s = format!("{:.*e}", digits.saturating_sub(1), x.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    let sig = mantissa
        .trim_end_matches('0')
        .trim_end_matches('.')
        .replace('.', "")
        .len();
    (sig.max(1), e, x < 0.0)
}

fn special(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// R's scientific notation: `1.86e-05`, `2e+10`.
fn sci(x: f64, decimals: usize) -> String {
    let s = format!("{:.*e}", decimals, x);
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// R's `format(xs, digits = digits)`: one common layout for the vector.
pub fn format_real(xs: &[f64], digits: usize) -> Vec<String> {
    let finite: Vec<(usize, i32, bool)> = xs
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| needs(x, digits))
        .collect();
    if finite.is_empty() {
        return xs.iter().map(|&x| special(x).unwrap_or_default()).collect();
    }
    let neg = usize::from(finite.iter().any(|f| f.2));
    let rgt = finite
        .iter()
        .map(|&(sig, e, _)| (sig as i32 - 1 - e).max(0))
        .max()
        .unwrap_or(0)
        .min(15) as usize;
    let left = finite
        .iter()
        .map(|&(_, e, _)| if e >= 0 { e as usize + 1 } else { 1 })
        .max()
        .unwrap_or(1);
    let fixed_width = neg + left + if rgt > 0 { rgt + 1 } else { 0 };
    let mxsl = finite.iter().map(|f| f.0).max().unwrap_or(1);
    let big_exp = finite.iter().any(|f| f.1.abs() >= 100);
    let sci_width = neg + if mxsl > 1 { mxsl + 1 } else { 1 } + if big_exp { 5 } else { 4 };
    xs.iter()
        .map(|&x| {
            special(x).unwrap_or_else(|| {
                if fixed_width <= sci_width {
                    format!("{x:.rgt$}")
                } else {
                    sci(x, mxsl - 1)
                }
            })
        })
        .collect()
}

/// One number as R's `format(x, digits = digits)` prints it alone.
pub fn format_one(x: f64, digits: usize) -> String {
    format_real(&[x], digits).remove(0)
}

/// R's `round(x, places)` then `format(…, digits = 4)`: how summaries
/// print a statistic (`Likelihood ratio test= 14.12`).
pub fn rounded(x: f64, places: i32) -> String {
    let f = 10f64.powi(places);
    format_one((x * f).round() / f, 4)
}

/// R's `format.pval(pv, digits)` (R 4.2's code): p-values of exponent
/// −3 and up (−4 too when `digits > 1`) share a fixed layout, smaller ones
/// a scientific one, and those under machine epsilon print as `<2e-16`
/// (with a space before the number when the column is wider than six).
pub fn format_pval(pv: &[f64], digits: usize) -> Vec<String> {
    let eps = f64::EPSILON;
    let mut out = vec![String::new(); pv.len()];
    let expo = |p: f64| if p > 0.0 { p.log10().floor() } else { -50.0 };
    let tiny = |p: f64| p < eps;
    let fixp = |p: f64| expo(p) >= -3.0 || (expo(p) == -4.0 && digits > 1);
    for fixed in [true, false] {
        let group: Vec<usize> = (0..pv.len())
            .filter(|&i| !tiny(pv[i]) && fixp(pv[i]) == fixed)
            .collect();
        let vals: Vec<f64> = group.iter().map(|&i| pv[i]).collect();
        for (i, s) in group.iter().zip(format_real(&vals, digits)) {
            out[*i] = s;
        }
    }
    if pv.iter().any(|&p| tiny(p)) {
        let mut d = digits.saturating_sub(2).max(1);
        let others: Vec<usize> = (0..pv.len())
            .filter(|&i| !tiny(pv[i]))
            .map(|i| out[i].chars().count())
            .collect();
        let sep = match others.iter().max() {
            Some(&nc) => {
                if d > 1 && d + 6 > nc {
                    d = nc.saturating_sub(7).max(1);
                }
                if d == 1 && nc <= 6 { "" } else { " " }
            }
            None => {
                if d == 1 {
                    ""
                } else {
                    " "
                }
            }
        };
        let shown = format!("<{sep}{}", format_one(eps, d));
        for (i, &p) in pv.iter().enumerate() {
            if tiny(p) {
                out[i] = shown.clone();
            }
        }
    }
    out
}

/// `printCoefmat`'s significance code of a p-value.
pub fn stars(p: f64) -> &'static str {
    match p {
        p if p < 0.001 => "***",
        p if p < 0.01 => "**",
        p if p < 0.05 => "*",
        p if p < 0.1 => ".",
        _ => " ",
    }
}

/// The legend R prints under a table with stars.
pub const SIGNIF_LEGEND: &str =
    "---\nSignif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1";

/// A matrix printed as R prints one: row names left-aligned, columns
/// right-aligned under their headers.
pub struct CoefTable {
    pub rows: Vec<String>,
    /// Each column: header and its formatted cells.
    pub columns: Vec<(String, Vec<String>)>,
}

impl CoefTable {
    pub fn new(rows: Vec<String>) -> CoefTable {
        CoefTable {
            rows,
            columns: Vec::new(),
        }
    }

    /// Adds a column of formatted cells.
    pub fn column(mut self, header: &str, cells: Vec<String>) -> CoefTable {
        self.columns.push((header.into(), cells));
        self
    }

    pub fn render(&self) -> String {
        let rw = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(h, c)| {
                c.iter()
                    .map(|s| s.chars().count())
                    .chain([h.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!("{:rw$}", "");
        for ((h, _), w) in self.columns.iter().zip(&widths) {
            out.push_str(&format!(" {h:>w$}"));
        }
        out.push('\n');
        for (i, r) in self.rows.iter().enumerate() {
            let pad = rw - r.chars().count();
            out.push_str(r);
            out.push_str(&" ".repeat(pad));
            for ((h, c), w) in self.columns.iter().zip(&widths) {
                let cell = c.get(i).map_or("", String::as_str);
                // A column without a header (the stars) is left-aligned, as R prints it.
                if h.is_empty() {
                    out.push_str(&format!(" {cell:<w$}"));
                } else {
                    out.push_str(&format!(" {cell:>w$}"));
                }
            }
            out.push('\n');
        }
        out
    }
}

/// printCoefmat's `digits` inside `summary()` (R's default 7 − 3).
pub const DIGITS: usize = 4;

/// The `lower .95` / `upper .95` headers of a confidence level.
fn level_headers(level: f64) -> (String, String) {
    let pct = format!("{}", (100.0 * level * 100.0).round() / 100.0);
    (format!("lower .{pct}"), format!("upper .{pct}"))
}

/// The coefficient table with estimates, SEs (both model-based and robust
/// when `naive` is given), z, p and stars, then the legend.
pub fn coef_block(
    terms: &[Coefficient],
    naive: Option<&[f64]>,
    heads: [&str; 4],
    out: &mut dyn Write,
) -> Result<()> {
    let rows: Vec<String> = terms.iter().map(|t| t.term.clone()).collect();
    // printCoefmat formats the estimate and SE columns as one matrix.
    let mut joint: Vec<f64> = terms.iter().map(|t| t.estimate).collect();
    joint.extend(terms.iter().map(|t| t.exp_estimate));
    if let Some(n) = naive {
        joint.extend(n.iter().copied());
    }
    joint.extend(terms.iter().map(|t| t.std_error));
    let cells = format_real(&joint, DIGITS);
    let k = terms.len();
    let mut chunks = cells.chunks(k.max(1)).map(<[String]>::to_vec);
    let mut table = CoefTable::new(rows)
        .column(heads[0], chunks.next().unwrap_or_default())
        .column(heads[1], chunks.next().unwrap_or_default());
    if naive.is_some() {
        table = table
            .column(heads[2], chunks.next().unwrap_or_default())
            .column("robust se", chunks.next().unwrap_or_default());
    } else {
        table = table.column(heads[2], chunks.next().unwrap_or_default());
    }
    let z: Vec<f64> = terms
        .iter()
        .map(|t| (t.z * 1000.0).round() / 1000.0)
        .collect();
    let p: Vec<f64> = terms.iter().map(|t| t.p_value).collect();
    let table = table
        .column(heads[3], format_real(&z, DIGITS))
        .column("Pr(>|z|)", format_pval(&p, 3))
        .column("", p.iter().map(|&p| stars(p).to_string()).collect());
    write!(out, "{}", table.render())?;
    writeln!(out, "{SIGNIF_LEGEND}")?;
    Ok(())
}

/// The ratio table: `exp(coef) exp(-coef) lower .95 upper .95`.
pub fn ratio_block(
    terms: &[Coefficient],
    ratio: &str,
    level: f64,
    out: &mut dyn Write,
) -> Result<()> {
    let (lo, hi) = level_headers(level);
    let col = |f: &dyn Fn(&Coefficient) -> f64| {
        format_real(&terms.iter().map(f).collect::<Vec<_>>(), DIGITS)
    };
    let table = CoefTable::new(terms.iter().map(|t| t.term.clone()).collect())
        .column(ratio, col(&|t| t.exp_estimate))
        .column(
            &format!("{ratio}⁻¹").replace("exp(coef)⁻¹", "exp(-coef)"),
            col(&|t| 1.0 / t.exp_estimate),
        )
        .column(&lo, col(&|t| t.conf_low))
        .column(&hi, col(&|t| t.conf_high));
    write!(out, "{}", table.render())?;
    Ok(())
}

pub fn deleted(dropped: usize, out: &mut dyn Write) -> Result<()> {
    if dropped > 0 {
        let s = if dropped == 1 {
            "observation"
        } else {
            "observations"
        };
        writeln!(out, "   ({dropped} {s} deleted due to missingness)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cells as R 4.x prints them for `summary(coxph(Surv(time, status) ~
    /// age + sex + factor(ph.ecog) + strata(inst), lung))`.
    #[test]
    fn as_r_formats_them() {
        let coef = [0.008647, 1.008684, 0.010335, -0.536291, 0.584914];
        assert_eq!(
            format_real(&coef, 4),
            ["0.008647", "1.008684", "0.010335", "-0.536291", "0.584914"]
        );
        let exp = [1.008684, 0.584914, 1.573912, 3.229966, 11.245613];
        assert_eq!(
            format_real(&exp, 4),
            ["1.0087", "0.5849", "1.5739", "3.2300", "11.2456"]
        );
        assert_eq!(
            format_real(&[0.991391, 1.709653, 0.635356, 0.309601, 0.088923], 4),
            ["0.99139", "1.70965", "0.63536", "0.30960", "0.08892"]
        );
        assert_eq!(
            format_pval(&[0.402812, 0.003218, 0.044249, 1.8628e-5, 0.052452], 3),
            ["0.40281", "0.00322", "0.04425", "1.86e-05", "0.05245"]
        );
        // R: format.pval(3.5e-6, digits = 1) is "3e-06" (the double is
        // just under 3.5e-6), format(2.5e-6, digits = 1) "3e-06",
        // format(0.0125, digits = 2) "0.013", format(c(0.15, 0.25),
        // digits = 1) "0.1" "0.2": the binary value, then ties to even.
        assert_eq!(format_pval(&[3.5e-6], 1), ["3e-06"]);
        assert_eq!(format_one(2.5e-6, 1), "3e-06");
        assert_eq!(format_one(0.0125, 2), "0.013");
        assert_eq!(format_real(&[0.15, 0.25], 1), ["0.1", "0.2"]);
        assert_eq!(format_pval(&[8.9e-4], 1), ["9e-04"]);
        assert_eq!(format_pval(&[0.00119], 1), ["0.001"]);
        assert_eq!(format_pval(&[1e-300], 3), ["<2e-16"]);
        // R: format.pval(c(1e-300, 0.40281), digits = 3) and with 2e-4.
        assert_eq!(format_pval(&[1e-300, 0.40281], 3), ["<2e-16", "0.403"]);
        assert_eq!(format_pval(&[0.00018, 0.5], 3), ["0.00018", "0.50000"]);
        assert_eq!(rounded(32.8512, 2), "32.85");
        assert_eq!(rounded(0.677_4, 3), "0.677");
        assert_eq!(rounded(0.0199, 3), "0.02");
        assert_eq!(format_one(2e10, 4), "2e+10");
        assert_eq!(format_one(123456.0, 4), "123456");
        assert_eq!(stars(0.0449), "*");
    }
}
