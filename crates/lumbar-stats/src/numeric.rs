//! Small numeric kernels shared by the analyses and the simulator.

/// `e^x` in a form that vectorises and inlines: Cox's passes take one per
/// row and the simulator a few per patient-day, where a libm call would cost
/// more than the rest of the work and keep sums out of registers. It is also
/// the same bits on every machine, which libm does not promise.
///
/// Cody & Waite's reduction (Cody and Waite 1980, *Software Manual for the
/// Elementary Functions*, ch. 6): `x = k ln 2 + r` with `k` the nearest
/// integer to `x / ln 2`, `|r| ≤ ln 2 / 2`, and ln 2 split in two (fdlibm's
/// `ln2_hi`, `ln2_lo`) so that `k ln 2` is exact; `e^r` by its Taylor series
/// to `r^13 / 13!` (the remainder is below 5e-18 relative); `2^k` written
/// into the exponent bits. Within 2 ulp of libm's `exp` (tested); for
/// |x| > 708, where `2^k` would not be a normal number, and for NaN, it is
/// libm's `exp`.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    if x.abs() <= 708.0 {
        exp_reduced(x)
    } else {
        x.exp()
    }
}

/// [`exp`] of every value of `v`, in place: branch-free unless some value
/// is out of the reduced form's range (rare: only a wild Newton step).
#[inline(always)]
pub fn exp_in_place(v: &mut [f64]) {
    if v.iter().fold(true, |ok, x| ok & (x.abs() <= 708.0)) {
        v.iter_mut().for_each(|x| *x = exp_reduced(*x));
    } else {
        v.iter_mut().for_each(|x| *x = exp(*x));
    }
}

/// [`exp`] for |x| ≤ 708, branch-free.
#[inline(always)]
pub fn exp_reduced(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8; // 0x3FE62E42FEE00000
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // 0x3DEA39EF35793C76
    // Adding 1.5 × 2^52 rounds to an integer held in the low bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let t = x * std::f64::consts::LOG2_E + SHIFTER;
    let k = t - SHIFTER;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor coefficients 1/j!, j = 13 down to 2.
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let mut poly = C[0];
    for c in &C[1..] {
        poly = poly * r + c;
    }
    let er = (poly * r + 1.0) * r + 1.0;
    // k sits in the low bits of t's mantissa, offset by SHIFTER's.
    let k_int = t.to_bits().wrapping_sub(SHIFTER.to_bits()) as i64;
    er * f64::from_bits(((k_int + 1023) << 52) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorisable exp is within 2 ulp of libm's everywhere it is
    /// used, and is libm's outside the reduced range.
    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let ulps = |a: f64, b: f64| (a.to_bits() as i64 - b.to_bits() as i64).abs();
        let mut worst = 0;
        let mut seed = 7u64;
        for i in 0..200_000 {
            // A grid over the whole range, then values near 0 and near ±708.
            let x = match i % 3 {
                0 => -708.0 + 1416.0 * (i as f64 / 200_000.0),
                1 => {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 4.0
                }
                _ => 708.0 - (i as f64) * 1e-3,
            };
            let (ours, libm) = (exp(x), x.exp());
            worst = worst.max(ulps(ours, libm));
            let mut v = [x, -x];
            exp_in_place(&mut v);
            assert_eq!(v[0].to_bits(), ours.to_bits());
            assert_eq!(v[1].to_bits(), exp(-x).to_bits());
        }
        assert!(worst <= 2, "{worst} ulp");
        for x in [
            709.0,
            709.78,
            710.0,
            -709.0,
            -745.0,
            -800.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(exp(x).to_bits(), x.exp().to_bits(), "{x}");
        }
        assert!(exp(f64::NAN).is_nan());
        // A block with one value out of range is libm's there, ours elsewhere.
        let mut v = [1.0, 720.0, -0.5];
        exp_in_place(&mut v);
        assert_eq!(v, [exp(1.0), 720f64.exp(), exp(-0.5)]);
    }
}
