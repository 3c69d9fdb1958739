//! Small descriptive statistics shared by the analyses.

/// Quantile of sorted data by R's default (type 7, Hyndman & Fan 1996):
/// linear interpolation between order statistics at `h = (n − 1)p`.
/// NaN for empty input.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The Harrell–Davis estimate of the `p`-quantile of sorted data
/// (Harrell & Davis 1982, Biometrika 69:635; R's `Hmisc::hdquantile`):
/// `Σ W_i x_(i)`, `W_i = I_{i/n}(a, b) − I_{(i−1)/n}(a, b)`, with
/// `a = p(n + 1)`, `b = (1 − p)(n + 1)` and `I` the regularised incomplete
/// beta function. A weighted mean of every order statistic, so it moves
/// smoothly where a sample quantile of tied, discrete values (a share of
/// 28 days) jumps a whole step; its bootstrap SE is correspondingly sane.
///
/// Input: sorted, finite values; `0 < p < 1`. NaN for empty input. Weights
/// under 1e-15 of the total are skipped: the sum runs over the order
/// statistics within 12 SDs of the Beta's mean, so the cost is O(√n).
pub fn harrell_davis(sorted: &[f64], p: f64) -> f64 {
    use statrs::distribution::{Beta, ContinuousCDF};
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return sorted[0];
    }
    let nf = n as f64;
    let (a, b) = (p * (nf + 1.0), (1.0 - p) * (nf + 1.0));
    let Ok(beta) = Beta::new(a, b) else {
        return f64::NAN;
    };
    // The Beta(a, b) law of the quantile's position: mean p, SD ≈ √(p(1−p)/n).
    let sd = (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
    let lo = (((p - 12.0 * sd) * nf).floor().max(0.0)) as usize;
    let hi = (((p + 12.0 * sd) * nf).ceil().min(nf)) as usize;
    let mut prev = beta.cdf(lo as f64 / nf);
    let mut sum = 0.0;
    let mut total = 0.0;
    for i in lo + 1..=hi {
        let next = beta.cdf(i as f64 / nf);
        let w = next - prev;
        sum += w * sorted[i - 1];
        total += w;
        prev = next;
    }
    sum / total
}

/// Median of unsorted data.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

/// Ordinary least-squares slope of y on x and its standard error
/// `sqrt(RSS / (n − 2) / Sxx)`; the SE is `None` with fewer than 3 points,
/// and both are `None` when x does not vary.
pub fn ols_slope(x: &[f64], y: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = x.len();
    if n < 2 {
        return (None, None);
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return (None, None);
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    if n < 3 {
        return (Some(slope), None);
    }
    let intercept = my - slope * mx;
    let rss: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    (Some(slope), Some((rss / (n - 2) as f64 / sxx).sqrt()))
}

/// Theil–Sen slope: the median of the slopes of all pairs of points with
/// different x (Theil 1950, Sen 1968).
pub fn theil_sen(x: &[f64], y: &[f64]) -> Option<f64> {
    let mut slopes = Vec::new();
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            if x[j] != x[i] {
                slopes.push((y[j] - y[i]) / (x[j] - x[i]));
            }
        }
    }
    (!slopes.is_empty()).then(|| median(&slopes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn harrell_davis_by_hand() {
        use super::harrell_davis;
        // n = 3, p = ½: a = b = 2, I_x(2, 2) = 3x² − 2x³, so the weights are
        // 7/27, 13/27, 7/27.
        let x = [1.0, 2.0, 10.0];
        let want = (7.0 * 1.0 + 13.0 * 2.0 + 7.0 * 10.0) / 27.0;
        assert!((harrell_davis(&x, 0.5) - want).abs() < 1e-12);
        // n = 2, p = ½: a = b = 1.5, symmetric weights ½, ½.
        assert!((harrell_davis(&[3.0, 5.0], 0.5) - 4.0).abs() < 1e-12);
        // p = ¼, n = 3: a = 1, b = 3, I_x(1, 3) = 1 − (1 − x)³:
        // weights 19/27, 7/27, 1/27.
        let want = (19.0 * 1.0 + 7.0 * 2.0 + 1.0 * 10.0) / 27.0;
        assert!((harrell_davis(&x, 0.25) - want).abs() < 1e-12);
        // A constant sample is its own quantile; large n uses the window.
        let c = vec![0.5; 5000];
        assert!((harrell_davis(&c, 0.75) - 0.5).abs() < 1e-12);
        // 0, 1, …, 9999: close to the type-7 quantile, ≈ 2499.75.
        let r: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        assert!((harrell_davis(&r, 0.25) - 2499.75).abs() < 0.5);
    }

    use super::*;

    #[test]
    fn quantiles_match_r_type_7() {
        // R: quantile(c(1, 2, 4, 7, 11), c(.25, .5, .75)) -> 2 4 7
        let v = [1.0, 2.0, 4.0, 7.0, 11.0];
        assert_eq!(quantile(&v, 0.25), 2.0);
        assert_eq!(quantile(&v, 0.5), 4.0);
        // R: quantile(c(1, 2, 4, 7), .25) -> 1.75
        assert!((quantile(&[1.0, 2.0, 4.0, 7.0], 0.25) - 1.75).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn ols_on_a_line_and_with_noise() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let (s, se) = ols_slope(&x, &[5.0, 4.5, 4.0, 3.5]);
        assert!((s.unwrap() + 0.5).abs() < 1e-12);
        assert!(se.unwrap().abs() < 1e-12);
        // y = 1, 3, 2, 5: slope 1.1, RSS 2.7, SE sqrt(2.7 / 2 / 5) = 0.5196 (R: lm(y ~ x)).
        let (s, se) = ols_slope(&x, &[1.0, 3.0, 2.0, 5.0]);
        assert!((s.unwrap() - 1.1).abs() < 1e-12);
        assert!((se.unwrap() - (2.7f64 / 2.0 / 5.0).sqrt()).abs() < 1e-12);
        assert_eq!(ols_slope(&[1.0, 1.0], &[2.0, 3.0]), (None, None));
    }

    #[test]
    fn theil_sen_resists_an_outlier() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [10.0, 9.0, 8.0, 7.0, 100.0];
        assert_eq!(theil_sen(&x, &y), Some(-1.0));
        assert_eq!(theil_sen(&[1.0], &[1.0]), None);
    }
}
