//! The row passes of the modified Poisson fit: every sum over the n rows
//! that the IRLS loop and the sandwich need, each computed in one fused pass
//! that reads the covariate columns where they are (no copy of X, no n × p
//! buffer, nothing of length n allocated).
//!
//! Contract: `y` and every column of `cols` have the same length n (the
//! caller's precondition; the design matrix is `[1 | cols]`, p = 1 +
//! cols.len()). A pass returns [`Sums`]:
//! - [`Pass::Start`], at R's `mustart = y + 0.1` (η = log μ): `XᵀX` (for the
//!   rank checks), `XᵀWX`, `XᵀWz` and the deviance;
//! - [`Pass::Step`] at a β (η = Xβ, μ = e^η): `XᵀWX`, the score `Xᵀ(y − μ)`
//!   (IRLS's `XᵀWz` is `XᵀWXβ + Xᵀ(y − μ)`), the deviance
//!   `D = 2 Σ [y log(y/μ) − (y − μ)]` (a row with y = 0 adds μ) and the
//!   number of rows with μ below a threshold; when asked, also the HC0 meat
//!   at that β (below), so that the step that converges has it and HC0 and
//!   HC1 need no pass of their own;
//! - [`Pass::Meat`] at a β and the bread B: HC3's meat `Σ wᵢ xᵢxᵢᵀ`, with
//!   `wᵢ = (yᵢ − μᵢ)² / (1 − hᵢ)²` and the leverage `hᵢ = μᵢ xᵢᵀ B xᵢ` row
//!   by row (no hat matrix). HC0's meat is the same with `wᵢ = (yᵢ − μᵢ)²`.
//!
//! Here W = diag(μ) and z = η + (y − μ)/μ, the working weights and response.
//! Cross-products are kept as packed upper triangles (row j, columns j..p).
//!
//! Determinism: the rows are cut into chunks of [`CHUNK`] rows, fixed
//! whatever the number of threads; each chunk sums its rows in order
//! (blocks of [`BLOCK`] rows, each product over a block in four fixed
//! lanes), the chunks run in parallel and their sums are added in chunk
//! order. So a fit has the same bits on any pool size.

use rayon::prelude::*;

/// Rows per parallel chunk: fixed, so the order of every addition is too.
pub(super) const CHUNK: usize = 16_384;
/// Rows per block inside a chunk: η, μ and the weighted columns of one
/// block live in a small buffer that stays in the L1/L2 cache.
const BLOCK: usize = 256;
/// The intercept's column, a block at a time.
static ONES: [f64; BLOCK] = [1.0; BLOCK];

/// What one pass computes (see the module's doc).
#[derive(Clone, Copy)]
pub(super) enum Pass<'a> {
    Start,
    Step {
        beta: &'a [f64],
        /// Count the rows whose μ is below this.
        tiny: f64,
        /// Also the HC0 meat at this β (in case it is the last).
        meat: bool,
    },
    Meat {
        beta: &'a [f64],
        /// The bread (p × p, row-major), for HC3's leverages.
        bread: &'a [f64],
    },
}

/// The sums of one pass (the fields a pass does not compute are zero).
#[derive(Debug, Clone)]
pub(super) struct Sums {
    /// `XᵀWX`, as a packed upper triangle.
    pub tri: Vec<f64>,
    /// The meat `Σ wᵢ xᵢxᵢᵀ`, packed.
    pub meat: Vec<f64>,
    /// The start: `XᵀWz`; a step: the score `Xᵀ(y − μ)`.
    pub rhs: Vec<f64>,
    /// `XᵀX` (the start only), packed.
    pub xtx: Vec<f64>,
    /// `Σ` of the deviance's terms (half the deviance).
    pub half_dev: f64,
    /// Rows with μ under the step's threshold.
    pub tiny: usize,
}

impl Sums {
    fn zero(p: usize, pass: Pass) -> Sums {
        let t = p * (p + 1) / 2;
        let with_xtx = matches!(pass, Pass::Start);
        let with_meat = matches!(pass, Pass::Meat { .. } | Pass::Step { meat: true, .. });
        Sums {
            tri: vec![0.0; t],
            meat: vec![0.0; if with_meat { t } else { 0 }],
            rhs: vec![0.0; p],
            xtx: vec![0.0; if with_xtx { t } else { 0 }],
            half_dev: 0.0,
            tiny: 0,
        }
    }

    fn add(&mut self, o: &Sums) {
        for (a, b) in self.tri.iter_mut().zip(&o.tri) {
            *a += b;
        }
        for (a, b) in self.rhs.iter_mut().zip(&o.rhs) {
            *a += b;
        }
        for (a, b) in self.meat.iter_mut().zip(&o.meat) {
            *a += b;
        }
        for (a, b) in self.xtx.iter_mut().zip(&o.xtx) {
            *a += b;
        }
        self.half_dev += o.half_dev;
        self.tiny += o.tiny;
    }
}

/// A packed upper triangle as a full symmetric p × p matrix.
pub(super) fn unpack(tri: &[f64], p: usize) -> nalgebra::DMatrix<f64> {
    let mut m = nalgebra::DMatrix::zeros(p, p);
    let mut at = 0;
    for j in 0..p {
        for k in j..p {
            m[(j, k)] = tri[at];
            m[(k, j)] = tri[at];
            at += 1;
        }
    }
    m
}

/// One pass over all rows: chunks in parallel, their sums added in order.
pub(super) fn run(y: &[f64], cols: &[Vec<f64>], pass: Pass) -> Sums {
    let n = y.len();
    let p = cols.len() + 1;
    assert!(
        cols.iter().all(|c| c.len() == n),
        "every covariate column has the outcome's length"
    );
    let chunks = n.div_ceil(CHUNK);
    if chunks <= 1 {
        return chunk(y, cols, pass, 0..n);
    }
    let parts: Vec<Sums> = (0..chunks)
        .into_par_iter()
        .map(|c| chunk(y, cols, pass, c * CHUNK..n.min((c + 1) * CHUNK)))
        .collect();
    let mut total = Sums::zero(p, pass);
    for part in &parts {
        total.add(part);
    }
    total
}

/// One chunk's sums, on the widest vector unit the machine has: the same
/// source and the same order of operations on either path (Rust never
/// fuses a multiply and an add by itself), so the same bits.
fn chunk(y: &[f64], cols: &[Vec<f64>], pass: Pass, rows: std::ops::Range<usize>) -> Sums {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { chunk_avx2(y, cols, pass, rows) };
        }
    }
    chunk_with::<false>(y, cols, pass, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn chunk_avx2(y: &[f64], cols: &[Vec<f64>], pass: Pass, rows: std::ops::Range<usize>) -> Sums {
    chunk_with::<true>(y, cols, pass, rows)
}

/// A chunk's sums; `AVX` only where the caller checked the CPU has AVX2.
#[inline(always)]
fn chunk_with<const AVX: bool>(
    y: &[f64],
    cols: &[Vec<f64>],
    pass: Pass,
    rows: std::ops::Range<usize>,
) -> Sums {
    let p = cols.len() + 1;
    let mut sums = Sums::zero(p, pass);
    let with_meat = !sums.meat.is_empty();
    // Per block: η, μ, the weights (μ, and the meat's (y − μ)²) and w·z;
    // the weighted columns w·x_j.
    let mut eta = [0.0; BLOCK];
    let mut mu = [0.0; BLOCK];
    let mut w = [0.0; BLOCK];
    let mut r2 = [0.0; BLOCK];
    let mut wz = [0.0; BLOCK];
    let mut wx = vec![0.0; p * BLOCK];
    // HC3: (xᵀB)_k for the block's rows.
    let mut bx = match pass {
        Pass::Meat { .. } => vec![0.0; p * BLOCK],
        _ => Vec::new(),
    };
    let mut xs: Vec<&[f64]> = Vec::with_capacity(p);
    let mut start = rows.start;
    while start < rows.end {
        let len = BLOCK.min(rows.end - start);
        let block = start..start + len;
        start += len;
        let yb = &y[block.clone()];
        xs.clear();
        xs.push(&ONES[..len]);
        xs.extend(cols.iter().map(|c| &c[block.clone()]));
        let (eta, mu, w, r2, wz) = (
            &mut eta[..len],
            &mut mu[..len],
            &mut w[..len],
            &mut r2[..len],
            &mut wz[..len],
        );
        match pass {
            Pass::Start => {
                for ((e, m), &yi) in eta.iter_mut().zip(mu.iter_mut()).zip(yb) {
                    *m = yi + 0.1;
                    *e = m.ln();
                }
            }
            Pass::Step { beta, .. } | Pass::Meat { beta, .. } => {
                eta.fill(beta[0]);
                for (x, &b) in xs[1..].iter().zip(&beta[1..]) {
                    for (e, &v) in eta.iter_mut().zip(x.iter()) {
                        *e += b * v;
                    }
                }
                for (m, &e) in mu.iter_mut().zip(eta.iter()) {
                    *m = e.exp();
                }
            }
        }
        if !matches!(pass, Pass::Meat { .. }) {
            for (&yi, &m) in yb.iter().zip(mu.iter()) {
                sums.half_dev += if yi > 0.0 {
                    yi * (yi / m).ln() - (yi - m)
                } else {
                    m
                };
            }
            if let Pass::Step { tiny, .. } = pass {
                sums.tiny += mu.iter().filter(|&&m| m < tiny).count();
            }
            if matches!(pass, Pass::Start) {
                // XᵀWz: the start's η is not Xβ.
                for i in 0..len {
                    let z = eta[i] + (yb[i] - mu[i]) / mu[i];
                    wz[i] = mu[i] * z;
                }
            } else {
                // The score Xᵀ(y − μ) (= XᵀWz − XᵀWXβ): the step solves
                // for the change in β, whose rounding is relative to the
                // change, not to β.
                for i in 0..len {
                    wz[i] = yb[i] - mu[i];
                }
            }
            w.copy_from_slice(mu);
            dots::<AVX>(wz, &xs, &mut sums.rhs);
            cross::<AVX>(&xs, w, &mut wx, len, &mut sums.tri);
        }
        if with_meat {
            for i in 0..len {
                let r = yb[i] - mu[i];
                r2[i] = r * r;
            }
            if let Pass::Meat { bread, .. } = pass {
                leverage_divide(bread, &xs, mu, r2, &mut bx, len);
            }
            cross::<AVX>(&xs, r2, &mut wx, len, &mut sums.meat);
        }
        if matches!(pass, Pass::Start) {
            let mut at = 0;
            for j in 0..p {
                dots::<AVX>(xs[j], &xs[j..], &mut sums.xtx[at..at + p - j]);
                at += p - j;
            }
        }
    }
    sums
}

/// Adds `Σ_rows w x_j x_k` (k ≥ j) of one block to the packed triangle.
#[inline(always)]
fn cross<const AVX: bool>(xs: &[&[f64]], w: &[f64], wx: &mut [f64], len: usize, tri: &mut [f64]) {
    let p = xs.len();
    let mut at = 0;
    for (j, x) in xs.iter().enumerate() {
        let wxj = &mut wx[j * BLOCK..j * BLOCK + len];
        for ((o, &a), &b) in wxj.iter_mut().zip(w).zip(x.iter()) {
            *o = a * b;
        }
        dots::<AVX>(wxj, &xs[j..], &mut tri[at..at + p - j]);
        at += p - j;
    }
}

/// HC3: divides each row's weight by `(1 − h)²`, `h = μ xᵀ B x`.
#[inline(always)]
fn leverage_divide(
    bread: &[f64],
    xs: &[&[f64]],
    mu: &[f64],
    w: &mut [f64],
    bx: &mut [f64],
    len: usize,
) {
    let p = xs.len();
    // (xᵀB)_k = Σ_j x_j B_jk, then h = μ Σ_k (xᵀB)_k x_k.
    for k in 0..p {
        let out = &mut bx[k * BLOCK..k * BLOCK + len];
        out.fill(0.0);
        for (j, x) in xs.iter().enumerate() {
            let b = bread[j * p + k];
            for (o, &v) in out.iter_mut().zip(x.iter()) {
                *o += v * b;
            }
        }
    }
    for i in 0..len {
        let mut q = 0.0;
        for (k, x) in xs.iter().enumerate() {
            q += bx[k * BLOCK + i] * x[i];
        }
        let h = mu[i] * q;
        w[i] /= (1.0 - h).powi(2);
    }
}

/// `out[k] += Σ_i a_i b_k,i` for each k: every product in four fixed
/// lanes (row i in lane i mod 4, in order), the lanes added as
/// (0 + 1) + (2 + 3), then the rows past the last multiple of 4 in order.
/// Each `b` is at least as long as `a`. The AVX2 and portable paths do the
/// same operations in the same order (a multiply, then an add: never
/// fused), so they give the same bits.
#[inline(always)]
fn dots<const AVX: bool>(a: &[f64], bs: &[&[f64]], out: &mut [f64]) {
    let mut k = 0;
    while k < bs.len() {
        let m = (bs.len() - k).min(4);
        let (b, o) = (&bs[k..k + m], &mut out[k..k + m]);
        match m {
            4 => group::<AVX, 4>(a, b, o),
            3 => group::<AVX, 3>(a, b, o),
            2 => group::<AVX, 2>(a, b, o),
            _ => group::<AVX, 1>(a, b, o),
        }
        k += m;
    }
}

/// [`dots`] for `M` columns at once: `a` is read once for all of them.
#[inline(always)]
fn group<const AVX: bool, const M: usize>(a: &[f64], bs: &[&[f64]], out: &mut [f64]) {
    let n = a.len();
    let bs: [&[f64]; M] = std::array::from_fn(|t| &bs[t][..n]);
    let n4 = n - n % 4;
    let mut lanes = [[0.0; 4]; M];
    #[cfg(target_arch = "x86_64")]
    if AVX {
        use std::arch::x86_64::{
            __m256d, _mm256_add_pd, _mm256_loadu_pd, _mm256_mul_pd, _mm256_setzero_pd,
            _mm256_storeu_pd,
        };
        // SAFETY: AVX is true only on a CPU with AVX2 (`chunk`), and every
        // load reads 4 values below n4 ≤ n of slices of length n.
        unsafe {
            let mut acc: [__m256d; M] = [_mm256_setzero_pd(); M];
            let mut i = 0;
            while i < n4 {
                let va = _mm256_loadu_pd(a.as_ptr().add(i));
                for t in 0..M {
                    let vb = _mm256_loadu_pd(bs[t].as_ptr().add(i));
                    acc[t] = _mm256_add_pd(acc[t], _mm256_mul_pd(va, vb));
                }
                i += 4;
            }
            for t in 0..M {
                _mm256_storeu_pd(lanes[t].as_mut_ptr(), acc[t]);
            }
        }
    }
    if !AVX || !cfg!(target_arch = "x86_64") {
        let (ca, _) = a[..n4].as_chunks::<4>();
        for (t, b) in bs.iter().enumerate() {
            let (cb, _) = b[..n4].as_chunks::<4>();
            for (x, y) in ca.iter().zip(cb) {
                for l in 0..4 {
                    lanes[t][l] += x[l] * y[l];
                }
            }
        }
    }
    for t in 0..M {
        let l = &lanes[t];
        let mut s = (l[0] + l[1]) + (l[2] + l[3]);
        for i in n4..n {
            s += a[i] * bs[t][i];
        }
        out[t] += s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 path (where the CPU has it) and the portable one give the
    /// same bits, on a chunk with a ragged last block and every pass.
    #[test]
    fn both_paths_give_the_same_bits() {
        let n = 3 * BLOCK + 7;
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 7 == 0))).collect();
        let cols: Vec<Vec<f64>> = (0..5)
            .map(|j| {
                (0..n)
                    .map(|i| ((i * (j + 3)) % 11) as f64 / 7.0 - 0.6)
                    .collect()
            })
            .collect();
        let beta = [-1.5, 0.1, -0.2, 0.05, 0.3, -0.1];
        let bread: Vec<f64> = (0..36)
            .map(|k| if k % 7 == 0 { 0.01 } else { 1e-4 })
            .collect();
        let passes = [
            Pass::Start,
            Pass::Step {
                beta: &beta,
                tiny: 0.05,
                meat: true,
            },
            Pass::Meat {
                beta: &beta,
                bread: &bread,
            },
        ];
        let bits = |s: &Sums| -> Vec<u64> {
            [&s.tri, &s.meat, &s.rhs, &s.xtx]
                .into_iter()
                .flatten()
                .chain(std::iter::once(&s.half_dev))
                .map(|v| v.to_bits())
                .collect()
        };
        for pass in passes {
            let (a, b) = (
                chunk(&y, &cols, pass, 0..n),
                chunk_with::<false>(&y, &cols, pass, 0..n),
            );
            assert_eq!(bits(&a), bits(&b));
            assert_eq!(a.tiny, b.tiny);
        }
    }
}
