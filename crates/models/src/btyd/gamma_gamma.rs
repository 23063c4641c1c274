//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Hardie's note 025).

use serde::{Deserialize, Serialize};

use super::common::{Fitted, FrequencyIndex, finite, parallel_sum};
use crate::optimize::{Settings, bfgs};
use crate::special::{digamma, ln_gamma};
use crate::{Error, Result};

/// Spend per purchase ~ Gamma(p, ν) with ν ~ Gamma(q, γ); `v` is γ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// Check one (x, m) pair for fitting: x ≥ 1 and m > 0 finite.
fn validate(index: usize, x: u32, m: f64) -> Result<()> {
    if !m.is_finite() {
        return Err(Error::NotFinite {
            field: "monetary",
            index,
        });
    }
    if x == 0 {
        return Err(Error::Invalid {
            index,
            reason: "Gamma-Gamma needs repeat customers (x >= 1)".into(),
        });
    }
    if m <= 0.0 {
        return Err(Error::Invalid {
            index,
            reason: format!("mean spend {m} is not positive"),
        });
    }
    Ok(())
}

impl GammaGamma {
    /// Maximum-likelihood fit on repeat customers' (x, mean spend), with lifetimes'
    /// `GammaGammaFitter` objective (mean negative log-likelihood over log-parameters, start
    /// ln θ = 0.1, penalizer 0). Every x must be ≥ 1 and every spend > 0.
    pub fn fit(frequency: &[u32], monetary: &[f64]) -> Result<Fitted<GammaGamma>> {
        if frequency.len() != monetary.len() {
            return Err(Error::Argument {
                name: "monetary",
                reason: format!(
                    "{} values for {} frequencies",
                    monetary.len(),
                    frequency.len()
                ),
            });
        }
        if frequency.is_empty() {
            return Err(Error::Empty("no repeat customers with positive spend"));
        }
        for (i, (&x, &m)) in frequency.iter().zip(monetary).enumerate() {
            validate(i, x, m)?;
        }
        let n = frequency.len() as f64;
        let data = SpendData::new(frequency, monetary);
        let objective = |theta: &[f64]| {
            let (ll, g) = log_likelihood_and_gradient(theta, &data);
            (-ll / n, g.iter().map(|v| -v / n).collect())
        };
        let min = bfgs(objective, &[0.1; 3], Settings::default())?;
        let [p, q, v] = [min.x[0], min.x[1], min.x[2]].map(f64::exp);
        let params = GammaGamma { p, q, v };
        if ![p, q, v].iter().all(|t| t.is_finite() && *t > 0.0) {
            return Err(Error::Numerical(format!(
                "Gamma-Gamma parameters out of range: {params:?}"
            )));
        }
        let theta = [p, q, v].map(f64::ln);
        let ll = log_likelihood_and_gradient(&theta, &data).0;
        Ok(Fitted {
            params,
            log_likelihood: finite(ll, "the log-likelihood")?,
            customers: frequency.len(),
            iterations: min.iterations,
        })
    }

    /// E[mean spend | x, m]: a weighted average of the customer's own mean and the population
    /// mean pν/(q − 1). Customers without repeat purchases (x = 0) get the population mean.
    pub fn expected_spend(&self, frequency: u32, monetary: f64) -> Result<f64> {
        if !monetary.is_finite() {
            return Err(Error::NotFinite {
                field: "monetary",
                index: 0,
            });
        }
        if monetary < 0.0 {
            return Err(Error::Invalid {
                index: 0,
                reason: format!("negative mean spend {monetary}"),
            });
        }
        if self.q <= 1.0 {
            return Err(Error::Unidentifiable(format!(
                "Gamma-Gamma q = {} <= 1: the population mean spend is infinite",
                self.q
            )));
        }
        let px = self.p * f64::from(frequency);
        let w = px / (px + self.q - 1.0);
        let population = self.v * self.p / (self.q - 1.0);
        finite((1.0 - w) * population + w * monetary, "expected spend")
    }
}

/// What the likelihood needs of the data, computed once per fit: the distinct (x, m) pairs
/// with how many customers share each (many do: spend is in whole fen and x is small).
struct SpendData {
    index: FrequencyIndex,
    x: Vec<f64>,
    m: Vec<f64>,
    ln_m: Vec<f64>,
    ln_x: Vec<f64>,
    count: Vec<f64>,
}

impl SpendData {
    fn new(freq: &[u32], money: &[f64]) -> Self {
        let mut pairs: Vec<(u32, f64)> = freq.iter().copied().zip(money.iter().copied()).collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut grouped: Vec<(u32, f64, f64)> = Vec::new();
        for (x, m) in pairs {
            match grouped.last_mut() {
                Some(g) if g.0 == x && g.1.total_cmp(&m).is_eq() => g.2 += 1.0,
                _ => grouped.push((x, m, 1.0)),
            }
        }
        let xs: Vec<u32> = grouped.iter().map(|g| g.0).collect();
        SpendData {
            index: FrequencyIndex::from_frequencies(&xs),
            x: xs.iter().map(|&x| f64::from(x)).collect(),
            m: grouped.iter().map(|g| g.1).collect(),
            ln_m: grouped.iter().map(|g| g.1.ln()).collect(),
            ln_x: xs.iter().map(|&x| f64::from(x).ln()).collect(),
            count: grouped.iter().map(|g| g.2).collect(),
        }
    }
}

/// ln L per customer = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m + px ln x
/// − (px+q) ln(xm+γ) (note 025 eq. 1a), and its gradient in log-parameters, summed over the
/// distinct (x, m) pairs times their counts. The ln Γ and ψ terms depend on x alone and are
/// computed once per distinct x.
fn log_likelihood_and_gradient(theta: &[f64], d: &SpendData) -> (f64, [f64; 3]) {
    let [p, q, v] = [theta[0], theta[1], theta[2]].map(f64::exp);
    let (lg_q, dg_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
    let per_x: Vec<[f64; 3]> = d
        .index
        .values
        .iter()
        .map(|&x| {
            let px = p * x;
            let dg_pxq = digamma(px + q);
            [
                ln_gamma(px + q) - ln_gamma(px),
                dg_pxq - digamma(px),
                dg_pxq,
            ]
        })
        .collect();
    let s = parallel_sum::<4, _>(d.x.len(), |range| {
        let mut s = [0.0; 4];
        for i in range {
            let [lg, dg_p, dg_pxq] = per_x[d.index.of_customer[i] as usize];
            let (x, m, ln_m, ln_x, n) = (d.x[i], d.m[i], d.ln_m[i], d.ln_x[i], d.count[i]);
            let px = p * x;
            let ln_xmv = (x * m + v).ln();
            s[0] += n * (lg - lg_q + q * ln_v + (px - 1.0) * ln_m + px * ln_x - (px + q) * ln_xmv);
            s[1] += n * px * (dg_p + ln_m + ln_x - ln_xmv);
            s[2] += n * q * (dg_pxq - dg_q + ln_v - ln_xmv);
            s[3] += n * v * (q / v - (px + q) / (x * m + v));
        }
        s
    });
    (s[0], [s[1], s[2], s[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let x = [1, 3, 2, 7, 1];
        let m = [10.0, 25.5, 3.2, 14.0, 40.0];
        let theta = [0.7, 1.1, 2.3];
        let d = SpendData::new(&x, &m);
        let (_, g) = log_likelihood_and_gradient(&theta, &d);
        crate::btyd::common::assert_gradient(|t| log_likelihood_and_gradient(t, &d).0, &theta, &g);
    }

    #[test]
    fn bad_spend_is_an_error() {
        assert!(matches!(GammaGamma::fit(&[], &[]), Err(Error::Empty(_))));
        assert!(matches!(
            GammaGamma::fit(&[1, 2], &[3.0, 0.0]),
            Err(Error::Invalid { index: 1, .. })
        ));
        assert!(matches!(
            GammaGamma::fit(&[1, 2], &[-3.0, 1.0]),
            Err(Error::Invalid { index: 0, .. })
        ));
        assert!(matches!(
            GammaGamma::fit(&[0, 2], &[3.0, 1.0]),
            Err(Error::Invalid { index: 0, .. })
        ));
        assert!(matches!(
            GammaGamma::fit(&[1, 2], &[f64::NAN, 1.0]),
            Err(Error::NotFinite { .. })
        ));
        assert!(matches!(
            GammaGamma::fit(&[1], &[1.0, 2.0]),
            Err(Error::Argument { .. })
        ));
        let gg = GammaGamma {
            p: 6.0,
            q: 3.0,
            v: 15.0,
        };
        assert!(gg.expected_spend(2, f64::NAN).is_err());
        assert!(gg.expected_spend(2, -1.0).is_err());
        assert!(GammaGamma { q: 0.8, ..gg }.expected_spend(2, 1.0).is_err());
    }
}
