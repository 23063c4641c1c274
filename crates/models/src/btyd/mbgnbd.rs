//! MBG/NBD (Batislam, Denizel & Filiztekin 2007): like BG/NBD, but a customer may also drop
//! out right after the first purchase, so one-time buyers are not certainly alive.

use serde::{Deserialize, Serialize};

use super::common::{
    Fitted, FrequencyIndex, TransactionModel, Triples, check_positive, check_time,
    expectation_bracket, finite, fit_four, parallel_sum, rescaled, validate_one,
};
use crate::Result;
use crate::special::{digamma, ln_gamma, log_add_exp, sigmoid};
use crate::summary::CustomerSummary;

/// MBG/NBD parameters, with the same meaning as in [`super::BgNbd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MbgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl MbgNbd {
    /// Maximum-likelihood fit with lifetimes' `ModifiedBetaGeoFitter` objective and start,
    /// summed over the distinct (x, t_x, T) triples weighted by their counts.
    pub fn fit(data: &[CustomerSummary]) -> Result<Fitted<MbgNbd>> {
        let (triples, scaled, scale) = rescaled(data)?;
        let index = FrequencyIndex::from_frequencies(&scaled.frequency);
        let ([r, alpha, a, b], iterations) = fit_four(data.len(), |theta| {
            log_likelihood_and_gradient(theta, &scaled, &index)
        })?;
        let params = MbgNbd {
            r,
            alpha: alpha / scale,
            a,
            b,
        };
        params.check()?;
        let theta = [params.r, params.alpha, params.a, params.b].map(f64::ln);
        let ll = log_likelihood_and_gradient(&theta, &triples, &index).0;
        Ok(Fitted {
            params,
            log_likelihood: finite(ll, "the log-likelihood")?,
            customers: data.len(),
            iterations,
        })
    }

    fn check(&self) -> Result<()> {
        check_positive("MBG/NBD", &[self.r, self.alpha, self.a, self.b], self)
    }

    /// Total log-likelihood of `data` under these parameters.
    pub fn log_likelihood(&self, data: &[CustomerSummary]) -> Result<f64> {
        self.check()?;
        for (index, c) in data.iter().enumerate() {
            validate_one(index, c)?;
        }
        let theta = [self.r, self.alpha, self.a, self.b].map(f64::ln);
        let triples = Triples::new(data);
        let index = FrequencyIndex::from_frequencies(&triples.frequency);
        Ok(log_likelihood_and_gradient(&theta, &triples, &index).0)
    }
}

/// Per customer: ln L = A₁ + A₂ + A₃ + ln(1 + e^A₄) with A₁ as in BG/NBD,
/// A₂ = ln B(a, b+x+1) − ln B(a, b), A₃ = −(r+x) ln(α+T),
/// A₄ = ln a − ln(b+x) + (r+x)(ln(α+T) − ln(α+t_x)); summed over the distinct triples times
/// their counts.
fn log_likelihood_and_gradient(
    theta: &[f64],
    t: &Triples,
    index: &FrequencyIndex,
) -> (f64, [f64; 4]) {
    let [r, alpha, a, b] = [theta[0], theta[1], theta[2], theta[3]].map(f64::exp);
    let per_x: Vec<[f64; 5]> = index
        .values
        .iter()
        .map(|&x| {
            let a1 = ln_gamma(r + x) - ln_gamma(r);
            let a2 =
                ln_gamma(a + b) + ln_gamma(b + x + 1.0) - ln_gamma(b) - ln_gamma(a + b + x + 1.0);
            let d_r = digamma(r + x) - digamma(r);
            let d_a = digamma(a + b) - digamma(a + b + x + 1.0);
            let d_b = d_a + digamma(b + x + 1.0) - digamma(b);
            [a1 + a2, d_r, d_a, d_b, (b + x).ln()]
        })
        .collect();
    let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
    let sums = parallel_sum::<5, _>(t.len(), |range| {
        let mut s = [0.0; 5];
        for i in range {
            let [base, d_r, d_a, d_b, ln_bx] = per_x[index.of_customer[i] as usize];
            let (n, age, recency) = (t.count[i], t.age[i], t.recency[i]);
            let x = f64::from(t.frequency[i]);
            let rx = r + x;
            let (ln_at, ln_ar) = ((alpha + age).ln(), (alpha + recency).ln());
            let a4 = ln_a - ln_bx + rx * (ln_at - ln_ar);
            let w = sigmoid(a4);
            s[0] += n * (base + r * ln_alpha - rx * ln_at + log_add_exp(a4, 0.0));
            s[1] += n * r * (d_r + ln_alpha - ln_at + w * (ln_at - ln_ar));
            let (inv_t, inv_r) = (1.0 / (alpha + age), 1.0 / (alpha + recency));
            s[2] += n * alpha * (r / alpha - rx * inv_t + w * rx * (inv_t - inv_r));
            s[3] += n * (a * d_a + w);
            s[4] += n * b * (d_b - w / (b + x));
        }
        s
    });
    (sums[0], [sums[1], sums[2], sums[3], sums[4]])
}

impl TransactionModel for MbgNbd {
    /// P(alive | x, t_x, T) (Wagner & Hoppe 2008, appendix A eq. 5); below 1 even for x = 0.
    fn probability_alive(&self, c: &CustomerSummary) -> Result<f64> {
        validate_one(0, c)?;
        let x = f64::from(c.frequency);
        let log_odds_dead = (self.r + x) * ((self.alpha + c.age) / (self.alpha + c.recency)).ln()
            + (self.a / (self.b + x)).ln();
        finite(sigmoid(-log_odds_dead), "P(alive)")
    }

    /// E[purchases in (T, T + t] | x, t_x, T] (Batislam et al. 2007 eq. 12).
    fn expected_purchases(&self, t: f64, c: &CustomerSummary) -> Result<f64> {
        validate_one(0, c)?;
        check_time(t)?;
        let MbgNbd { r, alpha, a, b } = *self;
        let x = f64::from(c.frequency);
        let cc = a + b + x;
        let z = t / (alpha + c.age + t);
        let bracket = expectation_bracket(r + x, b + x + 1.0, cc, a, z)?;
        let numerator = cc / (a - 1.0) * bracket;
        let denominator =
            1.0 + a / (b + x) * ((r + x) * ((alpha + c.age) / (alpha + c.recency)).ln()).exp();
        finite(numerator / denominator, "expected purchases")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn gradient_matches_finite_differences() {
        let mk = |x: u32, tx: f64, t: f64| CustomerSummary {
            frequency: x,
            recency: tx,
            age: t,
            monetary: 0.0,
        };
        let d = vec![
            mk(0, 0.0, 30.0),
            mk(2, 10.0, 38.0),
            mk(5, 30.0, 31.0),
            mk(1, 3.0, 20.0),
            mk(0, 0.0, 5.0),
        ];
        let d = Triples::new(&d);
        let idx = FrequencyIndex::from_frequencies(&d.frequency);
        let theta = [-0.3, 1.2, 0.4, 0.9];
        let (_, g) = log_likelihood_and_gradient(&theta, &d, &idx);
        crate::btyd::common::assert_gradient(
            |t| log_likelihood_and_gradient(t, &d, &idx).0,
            &theta,
            &g,
        );
    }

    #[test]
    fn one_time_buyers_are_not_certainly_alive() {
        let m = MbgNbd {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let c = CustomerSummary {
            frequency: 0,
            recency: 0.0,
            age: 30.0,
            monetary: 0.0,
        };
        let p = m.probability_alive(&c).unwrap();
        assert!(p > 0.0 && p < 1.0, "{p}");
        assert!(matches!(MbgNbd::fit(&[]), Err(Error::Empty(_))));
        assert!(matches!(
            MbgNbd::fit(&[c, c]),
            Err(Error::Unidentifiable(_))
        ));
    }
}
