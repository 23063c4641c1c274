//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

use serde::{Deserialize, Serialize};

use super::common::{
    Fitted, FrequencyIndex, TransactionModel, Triples, check_positive, check_time,
    expectation_bracket, finite, fit_four, parallel_sum, rescaled, validate_one,
};
use crate::Result;
use crate::special::{digamma, ln_gamma, sigmoid};
use crate::summary::CustomerSummary;

/// BG/NBD parameters: purchase rates ~ Gamma(r, α), drop-out probabilities ~ Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// Maximum-likelihood fit.
    ///
    /// Same objective and start as lifetimes' `BetaGeoFitter` with its default penalizer 0:
    /// the mean negative log-likelihood over log-parameters, starting from ln θ = 0.1, with
    /// time rescaled so that the oldest customer has T = 1 (which moves α only). The
    /// likelihood is summed over the distinct (x, t_x, T) triples, each weighted by its count.
    pub fn fit(data: &[CustomerSummary]) -> Result<Fitted<BgNbd>> {
        let (triples, scaled, scale) = rescaled(data)?;
        let prep = Prepared::new(&scaled);
        let ([r, alpha, a, b], iterations) = fit_four(data.len(), |theta| {
            log_likelihood_and_gradient(theta, &prep)
        })?;
        let params = BgNbd {
            r,
            alpha: alpha / scale,
            a,
            b,
        };
        params.check()?;
        let theta = [params.r, params.alpha, params.a, params.b].map(f64::ln);
        let ll = log_likelihood_and_gradient(&theta, &Prepared::new(&triples)).0;
        Ok(Fitted {
            params,
            log_likelihood: finite(ll, "the log-likelihood")?,
            customers: data.len(),
            iterations,
        })
    }

    fn check(&self) -> Result<()> {
        check_positive("BG/NBD", &[self.r, self.alpha, self.a, self.b], self)
    }

    /// Total log-likelihood of `data` under these parameters.
    pub fn log_likelihood(&self, data: &[CustomerSummary]) -> Result<f64> {
        self.check()?;
        for (index, c) in data.iter().enumerate() {
            validate_one(index, c)?;
        }
        let theta = [self.r, self.alpha, self.a, self.b].map(f64::ln);
        let triples = Triples::new(data);
        Ok(log_likelihood_and_gradient(&theta, &Prepared::new(&triples)).0)
    }
}

/// The triples with their frequency index, computed once per fit.
struct Prepared<'a> {
    t: &'a Triples,
    freq: FrequencyIndex,
}

impl<'a> Prepared<'a> {
    fn new(t: &'a Triples) -> Self {
        Prepared {
            t,
            freq: FrequencyIndex::from_frequencies(&t.frequency),
        }
    }
}

/// Log-likelihood (Fader, Hardie & Lee 2005 eq. 6, in the log-sum-exp form of
/// Hardie's note 004 / lifetimes) and its gradient with respect to the log-parameters,
/// summed over the distinct triples times their counts.
///
/// Per customer: ln L = A₁ + A₂ + ln(e^A₃ + [x > 0] e^A₄) with
/// A₁ = ln Γ(r+x) − ln Γ(r) + r ln α, A₂ = ln B(a, b+x) − ln B(a, b),
/// A₃ = −(r+x) ln(α+T), A₄ = ln a − ln(b+x−1) − (r+x) ln(α+t_x).
/// One-time buyers (x = 0) reduce to r ln α − r ln(α+T).
fn log_likelihood_and_gradient(theta: &[f64], prep: &Prepared<'_>) -> (f64, [f64; 4]) {
    let [r, alpha, a, b] = [theta[0], theta[1], theta[2], theta[3]].map(f64::exp);
    // Terms that depend on x alone: value and partial derivatives of A₁ + A₂ w.r.t. r, a, b.
    let per_x: Vec<[f64; 5]> = prep
        .freq
        .values
        .iter()
        .map(|&x| {
            let a1 = ln_gamma(r + x) - ln_gamma(r);
            let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
            let d_r = digamma(r + x) - digamma(r);
            let d_a = digamma(a + b) - digamma(a + b + x);
            let d_b = d_a + digamma(b + x) - digamma(b);
            // ln(b + x − 1) only matters for x > 0.
            let ln_bx = if x > 0.0 { (b + x - 1.0).ln() } else { 0.0 };
            [a1 + a2, d_r, d_a, d_b, ln_bx]
        })
        .collect();
    let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
    let t = prep.t;
    let sums = parallel_sum::<5, _>(t.len(), |range| {
        let mut s = [0.0; 5];
        for i in range {
            let (n, age) = (t.count[i], t.age[i]);
            let ln_at = (alpha + age).ln();
            if t.frequency[i] == 0 {
                s[0] += n * r * (ln_alpha - ln_at);
                s[1] += n * r * (ln_alpha - ln_at);
                s[2] += n * (r - alpha * r / (alpha + age));
                continue;
            }
            let [base, d_r, d_a, d_b, ln_bx] = per_x[prep.freq.of_customer[i] as usize];
            let x = f64::from(t.frequency[i]);
            let rx = r + x;
            let recency = t.recency[i];
            let ln_ar = (alpha + recency).ln();
            let a3 = -rx * ln_at;
            let a4 = ln_a - ln_bx - rx * ln_ar;
            // ln(e^A₃ + e^A₄) with one exp; w4 is the softmax weight of A₄.
            let e = (-(a3 - a4).abs()).exp();
            let w4 = if a4 > a3 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            let w3 = 1.0 - w4;
            // e ≤ 1, so ln(1 + e) needs no log1p (which is much slower in glibc).
            s[0] += n * (base + r * ln_alpha + a3.max(a4) + (1.0 + e).ln());
            // d/d ln θ = θ · d/dθ
            s[1] += n * r * (d_r + ln_alpha - w3 * ln_at - w4 * ln_ar);
            s[2] += n * (r - alpha * rx * (w3 / (alpha + age) + w4 / (alpha + recency)));
            s[3] += n * (a * d_a + w4);
            s[4] += n * b * (d_b - w4 / (b + x - 1.0));
        }
        s
    });
    (sums[0], [sums[1], sums[2], sums[3], sums[4]])
}

impl TransactionModel for BgNbd {
    /// P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, note 021); 1 for x = 0, as in the paper.
    fn probability_alive(&self, c: &CustomerSummary) -> Result<f64> {
        validate_one(0, c)?;
        if c.frequency == 0 {
            return Ok(1.0);
        }
        let x = f64::from(c.frequency);
        let log_odds_dead = (self.r + x) * ((self.alpha + c.age) / (self.alpha + c.recency)).ln()
            + (self.a / (self.b + x - 1.0)).ln();
        finite(sigmoid(-log_odds_dead), "P(alive)")
    }

    /// E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005 eq. 10).
    fn expected_purchases(&self, t: f64, c: &CustomerSummary) -> Result<f64> {
        validate_one(0, c)?;
        check_time(t)?;
        let BgNbd { r, alpha, a, b } = *self;
        let x = f64::from(c.frequency);
        let cc = a + b + x - 1.0;
        let z = t / (alpha + c.age + t);
        let bracket = expectation_bracket(r + x, b + x, cc, a, z)?;
        let numerator = cc / (a - 1.0) * bracket;
        let denominator = if c.frequency > 0 {
            1.0 + a / (b + x - 1.0) * ((r + x) * ((alpha + c.age) / (alpha + c.recency)).ln()).exp()
        } else {
            1.0
        };
        finite(numerator / denominator, "expected purchases")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn data() -> Vec<CustomerSummary> {
        let mk = |x: u32, tx: f64, t: f64| CustomerSummary {
            frequency: x,
            recency: tx,
            age: t,
            monetary: 0.0,
        };
        vec![
            mk(0, 0.0, 30.0),
            mk(2, 10.0, 38.0),
            mk(5, 30.0, 31.0),
            mk(1, 3.0, 20.0),
            mk(0, 0.0, 5.0),
            mk(7, 35.5, 36.0),
        ]
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = Triples::new(&data());
        let idx = Prepared::new(&d);
        let theta = [-0.3, 1.2, 0.4, 0.9];
        let (_, g) = log_likelihood_and_gradient(&theta, &idx);
        crate::btyd::common::assert_gradient(
            |t| log_likelihood_and_gradient(t, &idx).0,
            &theta,
            &g,
        );
    }

    #[test]
    fn bad_populations_are_errors_not_panics() {
        let mk = |x: u32, tx: f64, t: f64| CustomerSummary {
            frequency: x,
            recency: tx,
            age: t,
            monetary: 1.0,
        };
        assert!(matches!(BgNbd::fit(&[]), Err(Error::Empty(_))));
        let one_timers = vec![mk(0, 0.0, 10.0), mk(0, 0.0, 3.0)];
        assert!(matches!(
            BgNbd::fit(&one_timers),
            Err(Error::Unidentifiable(_))
        ));
        let late = vec![mk(1, 12.0, 10.0), mk(0, 0.0, 3.0)];
        assert!(matches!(
            BgNbd::fit(&late),
            Err(Error::Invalid { index: 0, .. })
        ));
        let nan = vec![mk(1, 2.0, 10.0), mk(0, 0.0, f64::NAN)];
        assert!(matches!(
            BgNbd::fit(&nan),
            Err(Error::NotFinite { index: 1, .. })
        ));
        let nan_rec = vec![mk(1, f64::NAN, 10.0)];
        assert!(matches!(
            BgNbd::fit(&nan_rec),
            Err(Error::NotFinite { index: 0, .. })
        ));
        let neg = vec![mk(1, -2.0, 10.0)];
        assert!(matches!(BgNbd::fit(&neg), Err(Error::Invalid { .. })));
        let zero_x_late = vec![mk(0, 2.0, 10.0)];
        assert!(matches!(
            BgNbd::fit(&zero_x_late),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn predictions_reject_bad_customers_and_times() {
        let m = BgNbd {
            r: 0.24,
            alpha: 4.4,
            a: 0.79,
            b: 2.4,
        };
        let bad = CustomerSummary {
            frequency: 1,
            recency: 5.0,
            age: 2.0,
            monetary: 0.0,
        };
        assert!(m.probability_alive(&bad).is_err());
        assert!(m.expected_purchases(10.0, &bad).is_err());
        let ok = CustomerSummary {
            frequency: 1,
            recency: 1.0,
            age: 2.0,
            monetary: 0.0,
        };
        assert!(m.expected_purchases(f64::NAN, &ok).is_err());
        assert!(m.expected_purchases(-1.0, &ok).is_err());
        assert_eq!(m.expected_purchases(0.0, &ok).unwrap(), 0.0);
        // a = 1 makes the closed form divide by zero: an error, not an infinity.
        let degenerate = BgNbd { a: 1.0, ..m };
        assert!(degenerate.expected_purchases(10.0, &ok).is_err());
    }

    #[test]
    fn extreme_customers_stay_finite() {
        let m = BgNbd {
            r: 0.24,
            alpha: 4.4,
            a: 0.79,
            b: 2.4,
        };
        for (x, tx, t) in [
            (300, 39.0, 39.0),
            (300, 1.0, 39.0),
            (1, 0.001, 1000.0),
            (0, 0.0, 0.0),
        ] {
            let c = CustomerSummary {
                frequency: x,
                recency: tx,
                age: t,
                monetary: 0.0,
            };
            for horizon in [0.5, 52.0, 5200.0] {
                let e = m.expected_purchases(horizon, &c).unwrap();
                assert!(e.is_finite() && e >= 0.0, "{c:?} {horizon}: {e}");
            }
            let p = m.probability_alive(&c).unwrap();
            assert!((0.0..=1.0).contains(&p));
        }
    }
}
