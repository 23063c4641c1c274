//! Fitting the models on a collected population and scoring every customer.

use portrait_models::btyd::{
    BgNbd, GammaGamma, MbgNbd, TransactionModel, customer_lifetime_value, fit_spend,
};
use portrait_models::summary::{CustomerSummary, Period};
use portrait_service::{ModelKind, ModelPeriod, ModelSettings};

use super::collect::{ABSENT, Collected, Periods};

/// The fitted transaction model, either kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Transactions {
    BgNbd(BgNbd),
    MbgNbd(MbgNbd),
}

impl TransactionModel for Transactions {
    fn probability_alive(&self, c: &CustomerSummary) -> portrait_models::Result<f64> {
        match self {
            Transactions::BgNbd(m) => m.probability_alive(c),
            Transactions::MbgNbd(m) => m.probability_alive(c),
        }
    }

    fn expected_purchases(&self, t: f64, c: &CustomerSummary) -> portrait_models::Result<f64> {
        match self {
            Transactions::BgNbd(m) => m.expected_purchases(t, c),
            Transactions::MbgNbd(m) => m.expected_purchases(t, c),
        }
    }
}

/// What a fit used: the settings in force when it ran.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Terms {
    pub kind: ModelKind,
    pub period: Period,
    pub horizon: f64,
    pub clv_months: u32,
    pub discount_rate: f64,
    pub min_customers: u64,
    pub holdout_days: u32,
}

impl Terms {
    pub(crate) fn of(s: &ModelSettings) -> Self {
        Terms {
            kind: s.model,
            period: match s.period {
                ModelPeriod::Day => Period::Day,
                ModelPeriod::Week => Period::Week,
                ModelPeriod::Month => Period::Month,
            },
            horizon: s.horizon(),
            clv_months: s.clv_months,
            discount_rate: s.discount_rate,
            min_customers: s.min_customers,
            holdout_days: s.holdout_days,
        }
    }
}

/// One distinct (x, t_x, T) in whole days, with what depends on it alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Triple {
    pub frequency: u32,
    pub recency_days: i32,
    pub age_days: i32,
    pub alive: f64,
    pub expected: f64,
}

/// A fit and every customer's scores under it. Per customer 28 bytes in columns indexed by the
/// dense customer id: the triple's index (`ABSENT` when the customer had no order up to the
/// as-of day), repeat and total spend in fen (exact, for answers), and expected spend and
/// predicted CLV as f32 (7 significant digits: enough to rank and sum; the per-customer answer
/// recomputes them in f64 from the exact inputs).
#[derive(Debug)]
pub(crate) struct Fit {
    pub terms: Terms,
    pub transactions: Transactions,
    pub spend: GammaGamma,
    pub log_likelihood: f64,
    /// Each transaction model tried, with its log-likelihood (two under `models.model = auto`).
    pub candidates: Vec<(ModelKind, f64)>,
    pub spend_log_likelihood: f64,
    pub customers: usize,
    pub repeat_customers: usize,
    pub spend_customers: usize,
    pub triples: Vec<Triple>,
    pub triple_of: Vec<u32>,
    pub repeat_fen: Vec<i64>,
    pub total_fen: Vec<i64>,
    pub expected_spend: Vec<f32>,
    pub predicted_clv: Vec<f32>,
}

/// Why an attempt did not produce a fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotEnoughData(String),
    Failed(String),
}

pub(super) fn summary(p: &Periods, end: i32, unit: f64) -> CustomerSummary {
    CustomerSummary {
        frequency: p.frequency,
        recency: f64::from(p.last - p.first) / unit,
        age: f64::from(end - p.first) / unit,
        monetary: if p.frequency > 0 {
            p.repeat_fen as f64 / f64::from(p.frequency)
        } else {
            0.0
        },
    }
}

impl Fit {
    /// The kind of the transaction model in service (never `Auto`).
    pub(crate) fn chosen_kind(&self) -> ModelKind {
        match self.transactions {
            Transactions::BgNbd(_) => ModelKind::BgNbd,
            Transactions::MbgNbd(_) => ModelKind::MbgNbd,
        }
    }

    /// The customer's model inputs, exactly as `summarize` computes them.
    pub(crate) fn summary_of(&self, customer: u32) -> Option<CustomerSummary> {
        let t = *self
            .triples
            .get(*self.triple_of.get(customer as usize)? as usize)?;
        let unit = self.terms.period.days();
        Some(CustomerSummary {
            frequency: t.frequency,
            recency: f64::from(t.recency_days) / unit,
            age: f64::from(t.age_days) / unit,
            monetary: if t.frequency > 0 {
                self.repeat_fen[customer as usize] as f64 / f64::from(t.frequency)
            } else {
                0.0
            },
        })
    }
}

/// The transaction model a fit chose, and every candidate's log-likelihood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chosen {
    pub transactions: Transactions,
    pub log_likelihood: f64,
    pub candidates: Vec<(ModelKind, f64)>,
}

fn failed(what: &str, e: portrait_models::Error) -> Refusal {
    Refusal::Failed(format!("{what}: {e}"))
}

/// Fits the transaction model of `kind` on `data`; `Auto` fits both and keeps the more likely.
pub(crate) fn fit_transactions(
    kind: ModelKind,
    data: &[CustomerSummary],
) -> Result<Chosen, Refusal> {
    let bg = || {
        BgNbd::fit(data)
            .map(|f| (Transactions::BgNbd(f.params), f.log_likelihood))
            .map_err(|e| failed("BG/NBD", e))
    };
    let mbg = || {
        MbgNbd::fit(data)
            .map(|f| (Transactions::MbgNbd(f.params), f.log_likelihood))
            .map_err(|e| failed("MBG/NBD", e))
    };
    let fitted = match kind {
        ModelKind::BgNbd => vec![(ModelKind::BgNbd, bg())],
        ModelKind::MbgNbd => vec![(ModelKind::MbgNbd, mbg())],
        ModelKind::Auto => vec![(ModelKind::BgNbd, bg()), (ModelKind::MbgNbd, mbg())],
    };
    let candidates = (fitted.iter())
        .filter_map(|(k, r)| r.as_ref().ok().map(|(_, ll)| (*k, *ll)))
        .collect();
    let mut best: Option<(Transactions, f64)> = None;
    let mut first_error = None;
    for (_, outcome) in fitted {
        match outcome {
            // A candidate that fails is only fatal when no other fits.
            Err(e) => {
                first_error.get_or_insert(e);
            }
            Ok((t, ll)) if best.is_none_or(|(_, b)| ll > b) => best = Some((t, ll)),
            Ok(_) => {}
        }
    }
    match (best, first_error) {
        (Some((transactions, log_likelihood)), _) => Ok(Chosen {
            transactions,
            log_likelihood,
            candidates,
        }),
        (None, Some(e)) => Err(e),
        (None, None) => Err(Refusal::Failed("no transaction model was tried".into())),
    }
}

/// Fits and scores; CPU-bound, so callers run it on a blocking thread.
pub(crate) fn fit(collected: &Collected, terms: Terms) -> Result<Fit, Refusal> {
    let unit = terms.period.days();
    let end = collected.end;
    let present: Vec<&Periods> = collected.customers.iter().flatten().collect();
    let repeat_customers = present.iter().filter(|p| p.frequency > 0).count();
    if (repeat_customers as u64) < terms.min_customers {
        return Err(Refusal::NotEnoughData(format!(
            "{repeat_customers} repeat customers (of {}) as of the day; models.min_customers is {}",
            present.len(),
            terms.min_customers
        )));
    }
    let data: Vec<CustomerSummary> = present.iter().map(|p| summary(p, end, unit)).collect();
    let chosen = fit_transactions(terms.kind, &data)?;
    let (transactions, log_likelihood) = (chosen.transactions, chosen.log_likelihood);
    let spend = fit_spend(&data).map_err(|e| failed("Gamma-Gamma", e))?;
    drop(data);

    let mut keys: Vec<(u32, i32, i32)> = present
        .iter()
        .map(|p| (p.frequency, p.last - p.first, end - p.first))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut triples = Vec::with_capacity(keys.len());
    // The discounted sum of each month's expected purchases: CLV = expected spend × this, the
    // same sum `customer_lifetime_value` takes with the spend factored out.
    let mut clv_factor = Vec::with_capacity(keys.len());
    for &(frequency, recency_days, age_days) in &keys {
        let c = CustomerSummary {
            frequency,
            recency: f64::from(recency_days) / unit,
            age: f64::from(age_days) / unit,
            monetary: 0.0,
        };
        let scored = (|| {
            let alive = transactions.probability_alive(&c)?;
            let expected = transactions.expected_purchases(terms.horizon, &c)?;
            let (mut factor, mut previous) = (0.0, 0.0);
            for i in 1..=terms.clv_months {
                let t = f64::from(i) * terms.period.per_month();
                let cumulative = transactions.expected_purchases(t, &c)?;
                factor += (cumulative - previous) / (1.0 + terms.discount_rate).powi(i as i32);
                previous = cumulative;
            }
            Ok::<_, portrait_models::Error>((alive, expected, factor))
        })();
        let (alive, expected, factor) = scored.map_err(|e| failed("scoring", e))?;
        triples.push(Triple {
            frequency,
            recency_days,
            age_days,
            alive,
            expected,
        });
        clv_factor.push(factor);
    }

    let n = collected.customers.len();
    let (mut triple_of, mut repeat_fen, mut total_fen) =
        (vec![ABSENT; n], vec![0_i64; n], vec![0_i64; n]);
    let (mut expected_spend, mut predicted_clv) = (vec![0_f32; n], vec![0_f32; n]);
    for (c, p) in collected.customers.iter().enumerate() {
        let Some(p) = p else { continue };
        let key = (p.frequency, p.last - p.first, end - p.first);
        let t = keys.binary_search(&key).unwrap_or(0);
        let s = summary(p, end, unit);
        let value = spend
            .params
            .expected_spend(s.frequency, s.monetary)
            .map_err(|e| failed("expected spend", e))?;
        triple_of[c] = t as u32;
        repeat_fen[c] = p.repeat_fen;
        total_fen[c] = p.total_fen;
        expected_spend[c] = value as f32;
        predicted_clv[c] = (value * clv_factor[t]) as f32;
    }
    Ok(Fit {
        terms,
        transactions,
        spend: spend.params,
        log_likelihood,
        candidates: chosen.candidates,
        spend_log_likelihood: spend.log_likelihood,
        customers: present.len(),
        repeat_customers,
        spend_customers: spend.customers,
        triples,
        triple_of,
        repeat_fen,
        total_fen,
        expected_spend,
        predicted_clv,
    })
}

/// One customer's figures in f64, by the very functions `portrait models btyd` calls.
pub(crate) struct CustomerFigures {
    pub summary: CustomerSummary,
    pub alive: f64,
    pub expected: f64,
    /// Expected purchases in the next 30 and 90 days.
    pub expected_days: [f64; 2],
    pub spend: f64,
    pub clv: f64,
}

pub(crate) fn customer(fit: &Fit, c: u32) -> Option<Result<CustomerFigures, String>> {
    let summary = fit.summary_of(c)?;
    let t = fit.triples[fit.triple_of[c as usize] as usize];
    let terms = fit.terms;
    let figures = (|| {
        let spend = fit
            .spend
            .expected_spend(summary.frequency, summary.monetary)?;
        let clv = customer_lifetime_value(
            &fit.transactions,
            &fit.spend,
            &summary,
            terms.clv_months,
            terms.discount_rate,
            terms.period,
        )?;
        let in_days = |days: f64| {
            fit.transactions
                .expected_purchases(days / terms.period.days(), &summary)
        };
        Ok::<_, portrait_models::Error>(CustomerFigures {
            summary,
            alive: t.alive,
            expected: t.expected,
            expected_days: [in_days(30.0)?, in_days(90.0)?],
            spend,
            clv,
        })
    })();
    Some(figures.map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use portrait_models::btyd::{
        BgNbd, GammaGamma, MbgNbd, TransactionModel, customer_lifetime_value,
    };

    use super::*;

    /// Weekly lives simulated as the models assume (a buying rate and a drop-out chance per
    /// customer, a first week of their own) from a fixed LCG; every 17th id never bought.
    fn collected(n: usize, zero_spend: bool) -> Collected {
        let mut state: u64 = 7;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1_u64 << 53) as f64
        };
        let weeks = 60;
        let customers = (0..n)
            .map(|i| {
                if i % 17 == 0 {
                    return None;
                }
                let first = (uniform() * f64::from(weeks)) as i32;
                let rate = (-0.25 * (1.0 - uniform()).ln()).min(1.0);
                let drop = 1.0 - (1.0 - uniform()).powf(1.0 / 3.0);
                let mut p = Periods {
                    frequency: 0,
                    first: 7 * first,
                    last: 7 * first,
                    repeat_fen: 0,
                    total_fen: 1_500,
                };
                for week in first + 1..=weeks {
                    if uniform() < drop {
                        break;
                    }
                    if uniform() < rate {
                        let fen = if zero_spend {
                            0
                        } else {
                            1_000 + (uniform() * 3e3) as i64
                        };
                        p.frequency += 1;
                        p.last = 7 * week;
                        p.repeat_fen += fen;
                        p.total_fen += fen;
                    }
                }
                Some(p)
            })
            .collect();
        Collected {
            end: 7 * weeks,
            customers,
        }
    }

    fn terms(kind: ModelKind, min_customers: u64) -> Terms {
        Terms {
            kind,
            period: Period::Week,
            horizon: 52.0,
            clv_months: 12,
            discount_rate: 0.01,
            min_customers,
            holdout_days: 0,
        }
    }

    #[test]
    fn mbgnbd_fit_and_scores_are_the_models_crates_own() {
        let data = collected(3_000, false);
        let fit = fit(&data, terms(ModelKind::MbgNbd, 20)).unwrap();
        let summaries: Vec<CustomerSummary> = (data.customers.iter().flatten())
            .map(|p| summary(p, data.end, 7.0))
            .collect();
        let want = MbgNbd::fit(&summaries).unwrap().params;
        assert_eq!(fit.transactions, Transactions::MbgNbd(want));
        let spend = fit_spend(&summaries).unwrap().params;
        assert_eq!(fit.spend, spend);
        assert_eq!(fit.customers, summaries.len());
        for c in 0..data.customers.len() as u32 {
            let Some(p) = data.customers[c as usize] else {
                assert!(customer(&fit, c).is_none());
                continue;
            };
            let s = summary(&p, data.end, 7.0);
            let got = customer(&fit, c).unwrap().unwrap();
            assert_eq!(got.summary, s);
            assert_eq!(got.alive, want.probability_alive(&s).unwrap());
            assert_eq!(got.expected, want.expected_purchases(52.0, &s).unwrap());
            let clv = customer_lifetime_value(&want, &spend, &s, 12, 0.01, Period::Week).unwrap();
            assert_eq!(got.clv, clv);
            // The f32 columns for lists: the spend factored out of the same sum.
            let list = fit.predicted_clv[c as usize];
            assert!(
                (f64::from(list) - clv).abs() <= 1e-6 * clv.abs() + 1e-3,
                "{list} {clv}"
            );
            let mean = GammaGamma::expected_spend(&spend, s.frequency, s.monetary).unwrap();
            assert_eq!(fit.expected_spend[c as usize], mean as f32);
        }
    }

    #[test]
    fn auto_serves_the_more_likely_model_and_reports_both() {
        let data = collected(2_000, false);
        let summaries: Vec<CustomerSummary> = (data.customers.iter().flatten())
            .map(|p| summary(p, data.end, 7.0))
            .collect();
        let bg = BgNbd::fit(&summaries).unwrap();
        let mbg = MbgNbd::fit(&summaries).unwrap();
        let fit = fit(&data, terms(ModelKind::Auto, 20)).unwrap();
        assert_eq!(
            fit.candidates,
            [
                (ModelKind::BgNbd, bg.log_likelihood),
                (ModelKind::MbgNbd, mbg.log_likelihood)
            ]
        );
        let want = if bg.log_likelihood >= mbg.log_likelihood {
            (Transactions::BgNbd(bg.params), bg.log_likelihood)
        } else {
            (Transactions::MbgNbd(mbg.params), mbg.log_likelihood)
        };
        assert_eq!((fit.transactions, fit.log_likelihood), want);
    }

    #[test]
    fn too_few_repeat_customers_is_not_enough_data_and_no_spend_is_a_failure() {
        let data = collected(300, false);
        let repeaters = data.customers.iter().flatten().filter(|p| p.frequency > 0);
        let n = repeaters.count() as u64;
        assert!(matches!(
            fit(&data, terms(ModelKind::BgNbd, n + 1)),
            Err(Refusal::NotEnoughData(r)) if r.contains("models.min_customers")
        ));
        assert!(fit(&data, terms(ModelKind::BgNbd, n)).is_ok());
        let r = fit(&collected(300, true), terms(ModelKind::BgNbd, 2));
        assert!(
            matches!(&r, Err(Refusal::Failed(reason)) if reason.starts_with("Gamma-Gamma")),
            "{r:?}"
        );
    }
}
