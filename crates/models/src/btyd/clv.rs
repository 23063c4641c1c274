//! Combining a transaction model with Gamma-Gamma: population fits, per-customer scores and
//! discounted customer lifetime value.

use serde::Serialize;

use super::{BgNbd, Fitted, GammaGamma, TransactionModel};
use crate::summary::{CustomerSummary, Period};
use crate::{Error, Result};

/// BG/NBD on everybody plus Gamma-Gamma on the repeat customers with positive mean spend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PopulationFit {
    pub bgnbd: Fitted<BgNbd>,
    pub gamma_gamma: Fitted<GammaGamma>,
}

/// Fit both models on one population, selecting the Gamma-Gamma sample as lifetimes' users do
/// (x > 0 and mean spend > 0). Errors if no customer qualifies.
pub fn fit_population(data: &[CustomerSummary]) -> Result<PopulationFit> {
    let sample = spend_sample(data)?;
    let bgnbd = BgNbd::fit(data)?;
    let gamma_gamma = GammaGamma::fit(&sample.0, &sample.1)?;
    Ok(PopulationFit { bgnbd, gamma_gamma })
}

/// Gamma-Gamma alone on the sample [`fit_population`] selects, for a caller that pairs it with
/// another transaction model.
pub fn fit_spend(data: &[CustomerSummary]) -> Result<Fitted<GammaGamma>> {
    let (freq, money) = spend_sample(data)?;
    GammaGamma::fit(&freq, &money)
}

/// The repeat customers' (x, mean spend) with mean spend > 0, after checking every spend.
fn spend_sample(data: &[CustomerSummary]) -> Result<(Vec<u32>, Vec<f64>)> {
    for (index, c) in data.iter().enumerate() {
        if !c.monetary.is_finite() {
            return Err(Error::NotFinite {
                field: "monetary",
                index,
            });
        }
        if c.monetary < 0.0 {
            return Err(Error::Invalid {
                index,
                reason: format!("negative mean spend {}", c.monetary),
            });
        }
    }
    let (freq, money): (Vec<u32>, Vec<f64>) = data
        .iter()
        .filter(|c| c.frequency > 0 && c.monetary > 0.0)
        .map(|c| (c.frequency, c.monetary))
        .unzip();
    if freq.is_empty() {
        return Err(Error::Unidentifiable(
            "no repeat customer with positive spend".into(),
        ));
    }
    Ok((freq, money))
}

/// One customer's predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CustomerScore {
    pub probability_alive: f64,
    pub expected_purchases: f64,
    pub expected_spend: f64,
}

/// Score one customer over the next `horizon` periods.
pub fn score(fit: &PopulationFit, c: &CustomerSummary, horizon: f64) -> Result<CustomerScore> {
    let m = &fit.bgnbd.params;
    Ok(CustomerScore {
        probability_alive: m.probability_alive(c)?,
        expected_purchases: m.expected_purchases(horizon, c)?,
        expected_spend: fit
            .gamma_gamma
            .params
            .expected_spend(c.frequency, c.monetary)?,
    })
}

/// Discounted lifetime value over `months` months with a monthly `discount_rate`, by lifetimes'
/// `customer_lifetime_value` rule: for each month i, the expected purchases between months
/// i − 1 and i (a month being [`Period::per_month`] periods) times the expected spend,
/// divided by (1 + d)^i.
pub fn customer_lifetime_value<M: TransactionModel>(
    model: &M,
    spend: &GammaGamma,
    c: &CustomerSummary,
    months: u32,
    discount_rate: f64,
    period: Period,
) -> Result<f64> {
    if !(discount_rate.is_finite() && discount_rate > -1.0) {
        return Err(Error::Argument {
            name: "discount_rate",
            reason: format!("{discount_rate} is not a finite rate above -1"),
        });
    }
    let per_month = period.per_month();
    let value = spend.expected_spend(c.frequency, c.monetary)?;
    let mut clv = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let cumulative = model.expected_purchases(f64::from(i) * per_month, c)?;
        clv += value * (cumulative - previous) / (1.0 + discount_rate).powi(i as i32);
        previous = cumulative;
    }
    if clv.is_finite() {
        Ok(clv)
    } else {
        Err(Error::Numerical(format!("lifetime value is {clv}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_without_spend_is_an_error() {
        let c = |x: u32, m: f64| CustomerSummary {
            frequency: x,
            recency: f64::from(x),
            age: 20.0,
            monetary: m,
        };
        let data = vec![c(0, 0.0), c(2, 0.0), c(3, 0.0), c(1, 0.0)];
        let r = fit_population(&data);
        assert!(matches!(r, Err(Error::Unidentifiable(_))), "{r:?}");
        let neg = vec![c(0, 0.0), c(2, -5.0), c(3, 1.0)];
        assert!(matches!(
            fit_population(&neg),
            Err(Error::Invalid { index: 1, .. })
        ));
        let nan = vec![c(0, 0.0), c(2, f64::NAN), c(3, 1.0)];
        assert!(matches!(
            fit_population(&nan),
            Err(Error::NotFinite { index: 1, .. })
        ));
    }

    #[test]
    fn bad_discount_rate_is_an_error() {
        let m = BgNbd {
            r: 0.24,
            alpha: 4.4,
            a: 0.79,
            b: 2.4,
        };
        let gg = GammaGamma {
            p: 6.0,
            q: 3.0,
            v: 15.0,
        };
        let c = CustomerSummary {
            frequency: 2,
            recency: 10.0,
            age: 20.0,
            monetary: 30.0,
        };
        assert!(customer_lifetime_value(&m, &gg, &c, 12, f64::NAN, Period::Week).is_err());
        assert!(customer_lifetime_value(&m, &gg, &c, 12, -1.0, Period::Week).is_err());
        let v = customer_lifetime_value(&m, &gg, &c, 12, 0.01, Period::Week).unwrap();
        assert!(v > 0.0);
    }
}
