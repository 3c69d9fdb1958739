//! Named distributions for population priors and PSA draws.
//!
//! In a scenario file a prior is a table naming its distribution and exactly
//! that distribution's parameters, with optional bounds that clamp a draw:
//!
//! ```toml
//! baseline_pain = { dist = "normal", mean = 5.1, sd = 1.5, min = 2, max = 10 }
//! adherence     = { dist = "beta", a = 8, b = 3 }
//! response      = { dist = "lognormal", mu = -0.125, sigma = 0.5 }
//! flare_rate    = { dist = "fixed", value = 0.0167 }
//! ```
//!
//! Parameterisations are the textbook ones (and statrs'): normal by mean and
//! SD, lognormal by the mean and SD of the log, beta by its two shapes, gamma
//! by shape and *rate*, uniform on [low, high).

use rand::Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, Gamma, LogNormal, Normal, Uniform};

/// A distribution with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Dist {
    Fixed { value: f64 },
    Normal { mean: f64, sd: f64 },
    LogNormal { mu: f64, sigma: f64 },
    Beta { a: f64, b: f64 },
    Gamma { shape: f64, rate: f64 },
    Uniform { low: f64, high: f64 },
}

/// A distribution whose draws are clamped to `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prior {
    #[serde(flatten)]
    pub dist: Dist,
    pub min: f64,
    pub max: f64,
}

/// The shape of a prior in a TOML file; checked by [`Prior::from_raw`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrior {
    dist: String,
    value: Option<f64>,
    mean: Option<f64>,
    sd: Option<f64>,
    mu: Option<f64>,
    sigma: Option<f64>,
    a: Option<f64>,
    b: Option<f64>,
    shape: Option<f64>,
    rate: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
}

/// A ready-to-draw distribution (statrs' samplers, built once per run).
#[derive(Debug, Clone, Copy)]
pub enum Sampler {
    Fixed(f64),
    Normal(Normal),
    LogNormal(LogNormal),
    Beta(Beta),
    Gamma(Gamma),
    Uniform(Uniform),
}

impl Prior {
    pub const fn fixed(value: f64) -> Prior {
        Prior {
            dist: Dist::Fixed { value },
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        }
    }

    pub const fn new(dist: Dist) -> Prior {
        Prior {
            dist,
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        }
    }

    pub const fn clamped(dist: Dist, min: f64, max: f64) -> Prior {
        Prior { dist, min, max }
    }

    /// Checks a prior read from a file; the error says which parameter is wrong.
    pub fn from_raw(raw: &RawPrior) -> Result<Prior, String> {
        let names: &[&str] = match raw.dist.as_str() {
            "fixed" => &["value"],
            "normal" => &["mean", "sd"],
            "lognormal" => &["mu", "sigma"],
            "beta" => &["a", "b"],
            "gamma" => &["shape", "rate"],
            "uniform" => &["low", "high"],
            other => {
                return Err(format!(
                    "unknown distribution \"{other}\"; use fixed, normal, lognormal, beta, gamma or uniform"
                ));
            }
        };
        let given = [
            ("value", raw.value),
            ("mean", raw.mean),
            ("sd", raw.sd),
            ("mu", raw.mu),
            ("sigma", raw.sigma),
            ("a", raw.a),
            ("b", raw.b),
            ("shape", raw.shape),
            ("rate", raw.rate),
            ("low", raw.low),
            ("high", raw.high),
        ];
        for (name, v) in given {
            if v.is_some() && !names.contains(&name) {
                return Err(format!(
                    "`{name}` is not a parameter of a {} distribution (it takes {})",
                    raw.dist,
                    names.join(" and ")
                ));
            }
        }
        let get = |name: &str| -> Result<f64, String> {
            let v = given
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| *v)
                .ok_or_else(|| format!("a {} distribution needs `{name}`", raw.dist))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("`{name}` must be a finite number"))
            }
        };
        let dist = match raw.dist.as_str() {
            "fixed" => Dist::Fixed {
                value: get("value")?,
            },
            "normal" => Dist::Normal {
                mean: get("mean")?,
                sd: get("sd")?,
            },
            "lognormal" => Dist::LogNormal {
                mu: get("mu")?,
                sigma: get("sigma")?,
            },
            "beta" => Dist::Beta {
                a: get("a")?,
                b: get("b")?,
            },
            "gamma" => Dist::Gamma {
                shape: get("shape")?,
                rate: get("rate")?,
            },
            _ => Dist::Uniform {
                low: get("low")?,
                high: get("high")?,
            },
        };
        let prior = Prior {
            dist,
            min: raw.min.unwrap_or(f64::NEG_INFINITY),
            max: raw.max.unwrap_or(f64::INFINITY),
        };
        if prior.min.is_nan() || prior.max.is_nan() || prior.min > prior.max {
            return Err(format!("`min` {} is above `max` {}", prior.min, prior.max));
        }
        prior.sampler()?;
        Ok(prior)
    }

    /// The statrs sampler, or why the parameters are invalid.
    pub fn sampler(&self) -> Result<Sampler, String> {
        let bad = |what: &str| format!("invalid {what} parameters in {:?}", self.dist);
        Ok(match self.dist {
            Dist::Fixed { value } => Sampler::Fixed(value),
            Dist::Normal { mean, sd } => {
                if sd <= 0.0 {
                    return Err(format!("`sd` must be above 0 (got {sd})"));
                }
                Sampler::Normal(Normal::new(mean, sd).map_err(|_| bad("normal"))?)
            }
            Dist::LogNormal { mu, sigma } => {
                if sigma <= 0.0 {
                    return Err(format!("`sigma` must be above 0 (got {sigma})"));
                }
                Sampler::LogNormal(LogNormal::new(mu, sigma).map_err(|_| bad("lognormal"))?)
            }
            Dist::Beta { a, b } => {
                if a <= 0.0 || b <= 0.0 {
                    return Err(format!("`a` and `b` must be above 0 (got {a}, {b})"));
                }
                Sampler::Beta(Beta::new(a, b).map_err(|_| bad("beta"))?)
            }
            Dist::Gamma { shape, rate } => {
                if shape <= 0.0 || rate <= 0.0 {
                    return Err(format!(
                        "`shape` and `rate` must be above 0 (got {shape}, {rate})"
                    ));
                }
                Sampler::Gamma(Gamma::new(shape, rate).map_err(|_| bad("gamma"))?)
            }
            Dist::Uniform { low, high } => {
                if low >= high {
                    return Err(format!("`low` {low} must be below `high` {high}"));
                }
                Sampler::Uniform(Uniform::new(low, high).map_err(|_| bad("uniform"))?)
            }
        })
    }

    /// The smallest and largest value a draw can take.
    pub fn support(&self) -> (f64, f64) {
        let (lo, hi) = match self.dist {
            Dist::Fixed { value } => (value, value),
            Dist::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Dist::LogNormal { .. } | Dist::Gamma { .. } => (0.0, f64::INFINITY),
            Dist::Beta { .. } => (0.0, 1.0),
            Dist::Uniform { low, high } => (low, high),
        };
        (lo.max(self.min), hi.min(self.max))
    }

    /// The `p`-quantile (0 < p < 1) of the distribution, clamped to the
    /// bounds: how calibration walks a prior's support evenly.
    pub fn quantile(&self, p: f64) -> f64 {
        use statrs::distribution::ContinuousCDF;
        let p = p.clamp(1e-9, 1.0 - 1e-9);
        let q = match self.dist {
            Dist::Fixed { value } => value,
            Dist::Normal { mean, sd } => Normal::new(mean, sd).map_or(mean, |d| d.inverse_cdf(p)),
            Dist::LogNormal { mu, sigma } => {
                LogNormal::new(mu, sigma).map_or(mu.exp(), |d| d.inverse_cdf(p))
            }
            Dist::Beta { a, b } => Beta::new(a, b).map_or(a / (a + b), |d| d.inverse_cdf(p)),
            Dist::Gamma { shape, rate } => {
                Gamma::new(shape, rate).map_or(shape / rate, |d| d.inverse_cdf(p))
            }
            Dist::Uniform { low, high } => low + p * (high - low),
        };
        q.clamp(self.min, self.max)
    }

    /// A central value of the draws (the median or mean), clamped to the bounds.
    pub fn central(&self) -> f64 {
        let c = match self.dist {
            Dist::Fixed { value } => value,
            Dist::Normal { mean, .. } => mean,
            Dist::LogNormal { mu, .. } => mu.exp(),
            Dist::Beta { a, b } => a / (a + b),
            Dist::Gamma { shape, rate } => shape / rate,
            Dist::Uniform { low, high } => 0.5 * (low + high),
        };
        c.clamp(self.min, self.max)
    }

    /// A parameter of this prior by name, for PSA paths.
    pub fn parameter(&mut self, name: &str) -> Option<&mut f64> {
        match (&mut self.dist, name) {
            (Dist::Fixed { value }, "value") => Some(value),
            (Dist::Normal { mean, .. }, "mean") => Some(mean),
            (Dist::Normal { sd, .. }, "sd") => Some(sd),
            (Dist::LogNormal { mu, .. }, "mu") => Some(mu),
            (Dist::LogNormal { sigma, .. }, "sigma") => Some(sigma),
            (Dist::Beta { a, .. }, "a") => Some(a),
            (Dist::Beta { b, .. }, "b") => Some(b),
            (Dist::Gamma { shape, .. }, "shape") => Some(shape),
            (Dist::Gamma { rate, .. }, "rate") => Some(rate),
            (Dist::Uniform { low, .. }, "low") => Some(low),
            (Dist::Uniform { high, .. }, "high") => Some(high),
            (_, "min") => Some(&mut self.min),
            (_, "max") => Some(&mut self.max),
            _ => None,
        }
    }
}

impl Sampler {
    /// One draw, clamped by the prior's bounds.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R, min: f64, max: f64) -> f64 {
        use rand::RngExt;
        let x = match self {
            Sampler::Fixed(v) => *v,
            Sampler::Normal(d) => rng.sample(d),
            Sampler::LogNormal(d) => rng.sample(d),
            Sampler::Beta(d) => rng.sample(d),
            Sampler::Gamma(d) => rng.sample(d),
            Sampler::Uniform(d) => rng.sample(d),
        };
        x.clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawPrior {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn each_distribution_takes_its_own_parameters() {
        let p = Prior::from_raw(&raw("dist = \"normal\"\nmean = 5\nsd = 1.5\nmin = 2")).unwrap();
        assert_eq!(p.dist, Dist::Normal { mean: 5.0, sd: 1.5 });
        assert_eq!(p.support(), (2.0, f64::INFINITY));
        let e = Prior::from_raw(&raw("dist = \"normal\"\nmean = 5\nsigma = 1")).unwrap_err();
        assert_eq!(
            e,
            "`sigma` is not a parameter of a normal distribution (it takes mean and sd)"
        );
        let e = Prior::from_raw(&raw("dist = \"beta\"\na = 2")).unwrap_err();
        assert_eq!(e, "a beta distribution needs `b`");
        let e = Prior::from_raw(&raw("dist = \"gamma\"\nshape = 2\nrate = 0")).unwrap_err();
        assert!(e.contains("must be above 0"), "{e}");
        let e = Prior::from_raw(&raw("dist = \"poisson\"\nmean = 2")).unwrap_err();
        assert!(e.starts_with("unknown distribution \"poisson\""), "{e}");
        let e = Prior::from_raw(&raw("dist = \"fixed\"\nvalue = 1\nmin = 3\nmax = 2")).unwrap_err();
        assert!(e.contains("above `max`"), "{e}");
    }

    #[test]
    fn draws_respect_bounds_and_moments() {
        use rand::SeedableRng;
        let p = Prior::clamped(Dist::Normal { mean: 5.0, sd: 2.0 }, 2.0, 10.0);
        let s = p.sampler().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let xs: Vec<f64> = (0..20_000)
            .map(|_| s.draw(&mut rng, p.min, p.max))
            .collect();
        assert!(xs.iter().all(|x| (2.0..=10.0).contains(x)));
        let b = Prior::new(Dist::Beta { a: 8.0, b: 3.0 });
        let sb = b.sampler().unwrap();
        let mean = (0..20_000)
            .map(|_| sb.draw(&mut rng, b.min, b.max))
            .sum::<f64>()
            / 20_000.0;
        // Beta(8, 3) has mean 8/11 = 0.7273; the SE of the mean is 0.0009.
        assert!((mean - 8.0 / 11.0).abs() < 0.004, "{mean}");
    }
}
