//! The passes' kernel: `w r`, `w r x` and `w r x xᵀ` summed over a run of
//! rows (a [`super::Unit`] or a late unit), with `r = exp(x β)`.
//!
//! Contract. Inputs: the centred rows `x` (row-major, `p` = `beta.len()`
//! values a row), case weights or none, the rows to sum, β, and `out =
//! [B0, B1.., B2..]` (`1 + p + p²` values) to add to. Output: `out` plus
//! the run's sums; B2 comes out whole, its 4 × 4 blocks below the diagonal
//! copied from those above ([`row_start`]) (within a diagonal block both
//! halves are summed, `(v x_a) x_b` and `(v x_b) x_a`, equal to rounding). The same operations
//! in the same order on every path (generic, fixed `p`, AVX2), so the
//! same bits: a test holds them to it.

use crate::numeric::{exp, exp_in_place};

/// Sums `rows` into `out` with the best kernel the CPU has: AVX2 when it
/// has it (the same operations, four lanes at a time: the same bits).
pub(super) fn sum_unit(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { sum_run_avx2(x, w, rows, beta, out) };
    }
    sum_run(x, w, rows, beta, out)
}

/// [`sum_rows`], with the covariate count a constant for up to 12
/// covariates so that the sums live in registers and the loops unroll.
#[inline(always)]
fn sum_run(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    match beta.len() {
        1 => sum_rows_of::<1>(x, w, rows, beta, out),
        2 => sum_rows_of::<2>(x, w, rows, beta, out),
        3 => sum_rows_of::<3>(x, w, rows, beta, out),
        4 => sum_rows_of::<4>(x, w, rows, beta, out),
        5 => sum_rows_of::<5>(x, w, rows, beta, out),
        6 => sum_rows_of::<6>(x, w, rows, beta, out),
        7 => sum_rows_of::<7>(x, w, rows, beta, out),
        8 => sum_rows_of::<8>(x, w, rows, beta, out),
        9 => sum_rows_of::<9>(x, w, rows, beta, out),
        10 => sum_rows_of::<10>(x, w, rows, beta, out),
        11 => sum_rows_of::<11>(x, w, rows, beta, out),
        12 => sum_rows_of::<12>(x, w, rows, beta, out),
        _ => sum_rows(x, w, rows, beta, out),
    }
}

/// [`sum_run`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_run_avx2(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    sum_run(x, w, rows, beta, out)
}

/// Where row `a` of `w r x xᵀ` starts being summed: the covariates in
/// blocks of 4 (one AVX2 vector), only the blocks on and above the
/// diagonal are summed, and those below are copied from their mirror
/// ([`mirror_blocks`]). Four lanes, not the triangle entry by entry, so
/// that each summed row is whole vectors: with 8 covariates 12 of the 16
/// vector multiply-adds a row, and 12 accumulators instead of 16, which
/// leaves room in the 16 registers for the row itself.
#[inline(always)]
const fn row_start(a: usize) -> usize {
    a / 4 * 4
}

/// Fills the blocks of `B2` (`p × p`, row-major) below the diagonal from
/// those above it (see [`row_start`]).
#[inline(always)]
fn mirror_blocks(b2: &mut [f64], p: usize) {
    for a in 0..p {
        for b in 0..row_start(a) {
            b2[a * p + b] = b2[b * p + a];
        }
    }
}

/// Adds up `w r`, `w r x` and `w r x xᵀ` over `rows` of the row-major `x`
/// into `out = [B0, B1.., B2..]` (the blocks of `x xᵀ` on and above the
/// diagonal, see [`row_start`]; the rest mirrored).
pub(super) fn sum_rows(
    x: &[f64],
    w: Option<&[f64]>,
    rows: impl Iterator<Item = usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    let p = beta.len();
    let (b0, rest) = out.split_at_mut(1);
    let (b1, b2) = rest.split_at_mut(p);
    for i in rows {
        let xi = &x[i * p..(i + 1) * p];
        let eta: f64 = xi.iter().zip(beta).map(|(a, b)| a * b).sum();
        let v = exp(eta) * w.map_or(1.0, |w| w[i]);
        b0[0] += v;
        for (a, (b1a, &xa)) in b1.iter_mut().zip(xi).enumerate() {
            let va = v * xa;
            *b1a += va;
            let from = row_start(a);
            for (gab, xb) in b2[a * p + from..(a + 1) * p].iter_mut().zip(&xi[from..]) {
                *gab += va * xb;
            }
        }
    }
    mirror_blocks(b2, p);
}

/// [`sum_rows`] for `P` covariates, a run of rows at a time, the sums in
/// local arrays: the same operations in the same order, so the same bits.
#[inline(always)]
fn sum_rows_of<const P: usize>(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    let (x, _) = x.as_chunks::<P>();
    // Copied in, not built by `array::from_fn`: where that was not inlined
    // the sums stayed in memory and the kernel took 60% longer.
    let mut beta_p = [0.0; P];
    beta_p.copy_from_slice(&beta[..P]);
    let beta = beta_p;
    let mut b0 = out[0];
    let mut b1 = [0.0; P];
    b1.copy_from_slice(&out[1..1 + P]);
    let mut b2 = [[0.0; P]; P];
    for (a, row) in b2.iter_mut().enumerate() {
        row.copy_from_slice(&out[1 + P + a * P..1 + P + (a + 1) * P]);
    }
    // A block at a time: its risk scores first, then its sums, so that no
    // call to exp sits in the loop that holds the sums in registers.
    const BLOCK: usize = 64;
    let mut v = [0.0; BLOCK];
    for (c, block) in x[rows.clone()].chunks(BLOCK).enumerate() {
        let at = rows.start + c * BLOCK;
        for (vr, xi) in v.iter_mut().zip(block) {
            let mut eta = 0.0;
            for a in 0..P {
                eta += xi[a] * beta[a];
            }
            *vr = eta;
        }
        exp_in_place(&mut v[..block.len()]);
        if let Some(w) = w {
            for (vr, wr) in v.iter_mut().zip(&w[at..at + block.len()]) {
                *vr *= wr;
            }
        }
        for (&v, xi) in v.iter().zip(block) {
            b0 += v;
            for a in 0..P {
                let va = v * xi[a];
                b1[a] += va;
                for b in row_start(a)..P {
                    b2[a][b] += va * xi[b];
                }
            }
        }
    }
    out[0] = b0;
    for a in 0..P {
        out[1 + a] = b1[a];
        for b in 0..P {
            out[1 + P + a * P + b] = b2[a][b];
        }
    }
    mirror_blocks(&mut out[1 + P..], P);
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::tied_data;
    use super::*;

    /// The sweep's kernel gives the same bits compiled for AVX2 or not,
    /// with the covariate count fixed (8) or not (13), with and without
    /// weights.
    #[test]
    fn the_kernel_gives_the_same_bits_on_every_path() {
        for p in [1, 5, 7, 8, 12, 13] {
            let d = tied_data(300, p, 5);
            let x: Vec<f64> = (0..300)
                .flat_map(|i| (0..p).map(move |j| (i * p + j) as f64))
                .map(|k| (k * 0.618).fract() - 0.5)
                .collect();
            let beta: Vec<f64> = (0..p).map(|j| 0.1 * j as f64 - 0.3).collect();
            for w in [None, d.weights.as_deref()] {
                let stride = 1 + p + p * p;
                let (mut plain, mut each) = (vec![0.0; stride], vec![0.0; stride]);
                sum_run(&x, w, 3..290, &beta, &mut plain);
                sum_rows(&x, w, 3..290, &beta, &mut each);
                assert_eq!(plain, each, "p {p}");
                // And what they sum, entry by entry over the full square.
                let mut want = vec![0.0; stride];
                for i in 3..290 {
                    let xi = &x[i * p..(i + 1) * p];
                    let eta: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                    let v = eta.exp() * w.map_or(1.0, |w| w[i]);
                    want[0] += v;
                    for a in 0..p {
                        want[1 + a] += v * xi[a];
                        for b in 0..p {
                            want[1 + p + a * p + b] += v * xi[a] * xi[b];
                        }
                    }
                }
                for (k, (x, y)) in plain.iter().zip(&want).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                        "p {p} value {k}: {x} {y}"
                    );
                }
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    let mut avx2 = vec![0.0; stride];
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { sum_run_avx2(&x, w, 3..290, &beta, &mut avx2) };
                    assert_eq!(plain, avx2, "p {p}");
                }
            }
        }
    }
}
