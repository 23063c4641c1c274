//! Pieces shared by the transaction models: input checks, the per-frequency tables, a
//! parallel sum over customers, and the conditional-expectation formula.

use serde::Serialize;

use crate::optimize::{Settings, bfgs};
use crate::special::hyp2f1;
use crate::summary::CustomerSummary;
use crate::{Error, Result};

/// Fitted parameters together with how well they fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fitted<M> {
    pub params: M,
    /// Total log-likelihood of the data at `params`, in the data's own time unit.
    pub log_likelihood: f64,
    /// Number of customers the fit used.
    pub customers: usize,
    /// Optimiser iterations.
    pub iterations: usize,
}

/// The distinct (x, t_x, T) triples of a population with how many customers share each, sorted
/// by (x, t_x, T): what the transaction models' likelihoods sum over. Summarised data repeats
/// triples heavily (weekly periods over a year allow at most 53³/6 of them, however many
/// customers), so a fit costs per distinct triple, not per customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Triples {
    pub frequency: Vec<u32>,
    pub recency: Vec<f64>,
    pub age: Vec<f64>,
    /// Customers with this triple, as f64 because it only ever multiplies.
    pub count: Vec<f64>,
    /// Number of customers in all.
    pub customers: usize,
}

impl Triples {
    /// Groups `data`, which the caller has validated.
    pub(crate) fn new(data: &[CustomerSummary]) -> Self {
        let mut keys: Vec<(u32, f64, f64)> = data
            .iter()
            .map(|c| (c.frequency, c.recency, c.age))
            .collect();
        keys.sort_unstable_by(|a, b| {
            (a.0.cmp(&b.0))
                .then(a.1.total_cmp(&b.1))
                .then(a.2.total_cmp(&b.2))
        });
        let mut t = Triples {
            customers: data.len(),
            ..Triples::default()
        };
        let mut last: Option<(u32, f64, f64)> = None;
        for k in keys {
            let same = last.is_some_and(|l| {
                l.0 == k.0 && l.1.total_cmp(&k.1).is_eq() && l.2.total_cmp(&k.2).is_eq()
            });
            if same {
                if let Some(n) = t.count.last_mut() {
                    *n += 1.0;
                }
            } else {
                t.frequency.push(k.0);
                t.recency.push(k.1);
                t.age.push(k.2);
                t.count.push(1.0);
                last = Some(k);
            }
        }
        t
    }

    pub(crate) fn len(&self) -> usize {
        self.frequency.len()
    }

    /// The same triples with time multiplied by `scale` (the grouping does not change).
    fn scaled(&self, scale: f64) -> Self {
        Triples {
            recency: self.recency.iter().map(|v| v * scale).collect(),
            age: self.age.iter().map(|v| v * scale).collect(),
            ..self.clone()
        }
    }
}

/// The data grouped into triples, and the same with time rescaled so that the oldest customer
/// has T = 1, as lifetimes' BG/NBD-family fitters do (it moves α only), and the scale used.
pub(crate) fn rescaled(data: &[CustomerSummary]) -> Result<(Triples, Triples, f64)> {
    validate_counts(data)?;
    let max_age = data.iter().fold(0.0_f64, |m, c| m.max(c.age));
    let scale = 1.0 / max_age;
    let triples = Triples::new(data);
    let scaled = triples.scaled(scale);
    Ok((triples, scaled, scale))
}

/// Minimises the mean negative log-likelihood of `n` customers over four
/// log-parameters with BFGS from ln θ = 0.1 (lifetimes' start); returns the
/// parameters and the iteration count.
pub(crate) fn fit_four(
    n: usize,
    log_likelihood_and_gradient: impl Fn(&[f64]) -> (f64, [f64; 4]),
) -> Result<([f64; 4], usize)> {
    let n = n as f64;
    let objective = |theta: &[f64]| {
        let (ll, grad) = log_likelihood_and_gradient(theta);
        (-ll / n, grad.iter().map(|g| -g / n).collect())
    };
    let min = bfgs(objective, &[0.1; 4], Settings::default())?;
    Ok((
        [min.x[0], min.x[1], min.x[2], min.x[3]].map(f64::exp),
        min.iterations,
    ))
}

/// Refuses parameters that are not finite and positive.
pub(crate) fn check_positive(
    model: &str,
    params: &[f64],
    shown: &dyn std::fmt::Debug,
) -> Result<()> {
    if params.iter().all(|v| v.is_finite() && *v > 0.0) {
        Ok(())
    } else {
        Err(Error::Numerical(format!(
            "{model} parameters out of range: {shown:?}"
        )))
    }
}

/// A model of purchase counts and survival that predicts per customer.
pub trait TransactionModel {
    /// Probability that the customer has not churned at the end of calibration.
    fn probability_alive(&self, c: &CustomerSummary) -> Result<f64>;
    /// Expected number of purchases in the next `t` periods.
    fn expected_purchases(&self, t: f64, c: &CustomerSummary) -> Result<f64>;
}

/// Check the (x, t_x, T) of every customer the way lifetimes' `_check_inputs` does, plus
/// non-finite values, and that somebody bought twice (otherwise the likelihood has no maximum).
pub(crate) fn validate_counts(data: &[CustomerSummary]) -> Result<()> {
    if data.is_empty() {
        return Err(Error::Empty("no customers to fit"));
    }
    for (index, c) in data.iter().enumerate() {
        validate_one(index, c)?;
    }
    if data.iter().all(|c| c.frequency == 0) {
        return Err(Error::Unidentifiable(
            "every customer bought only once: repeat-purchase rates cannot be estimated".into(),
        ));
    }
    if data.iter().all(|c| c.age == 0.0) {
        return Err(Error::Unidentifiable("every customer has age T = 0".into()));
    }
    Ok(())
}

pub(crate) fn validate_one(index: usize, c: &CustomerSummary) -> Result<()> {
    if !c.recency.is_finite() {
        return Err(Error::NotFinite {
            field: "recency",
            index,
        });
    }
    if !c.age.is_finite() {
        return Err(Error::NotFinite {
            field: "age",
            index,
        });
    }
    let invalid = |reason: String| Err(Error::Invalid { index, reason });
    if c.recency < 0.0 {
        return invalid(format!("negative recency t_x = {}", c.recency));
    }
    if c.recency > c.age {
        return invalid(format!(
            "recency t_x = {} is after the age T = {}",
            c.recency, c.age
        ));
    }
    if c.frequency == 0 && c.recency != 0.0 {
        return invalid(format!(
            "no repeat purchase but recency t_x = {}",
            c.recency
        ));
    }
    Ok(())
}

pub(crate) fn check_time(t: f64) -> Result<()> {
    if t.is_finite() && t >= 0.0 {
        Ok(())
    } else {
        Err(Error::Argument {
            name: "t",
            reason: format!("{t} is not a finite time >= 0"),
        })
    }
}

pub(crate) fn finite(value: f64, what: &str) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::Numerical(format!("{what} is {value}")))
    }
}

/// The distinct frequencies of the data and, per item (customer, triple or pair), the index of
/// its frequency, so that the ln Γ / ψ terms that depend on x alone are computed once per x.
pub(crate) struct FrequencyIndex {
    pub values: Vec<f64>,
    pub of_customer: Vec<u32>,
}

impl FrequencyIndex {
    pub(crate) fn from_frequencies(freq: &[u32]) -> Self {
        let mut values: Vec<u32> = freq.to_vec();
        values.sort_unstable();
        values.dedup();
        let of_customer = freq
            .iter()
            .map(|x| values.binary_search(x).unwrap_or(0) as u32)
            .collect();
        FrequencyIndex {
            values: values.into_iter().map(f64::from).collect(),
            of_customer,
        }
    }
}

/// Customers per thread below which threads cost more than they save.
const PARALLEL_CHUNK: usize = 50_000;

/// Sum `f(range)` over chunks of `0..n`, in parallel when `n` is large. Each chunk returns
/// N partial sums (log-likelihood and gradient).
pub(crate) fn parallel_sum<const N: usize, F>(n: usize, f: F) -> [f64; N]
where
    F: Fn(std::ops::Range<usize>) -> [f64; N] + Sync,
{
    if n < 2 * PARALLEL_CHUNK {
        return f(0..n);
    }
    // Asking the OS for the core count reads cgroup files: do it once per process.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |p| p.get()));
    let threads = cores.min(n / PARALLEL_CHUNK).max(1);
    if threads == 1 {
        return f(0..n);
    }
    let chunk = n.div_ceil(threads);
    let f = &f;
    let parts: Vec<[f64; N]> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| s.spawn(move || f(i * chunk..((i + 1) * chunk).min(n))))
            .collect();
        // A worker only does arithmetic; if one panicked anyway, its sum is lost as NaN, which
        // the optimiser reports as a numerical failure.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or([f64::NAN; N]))
            .collect()
    });
    let mut total = [0.0; N];
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// 1 − ₂F₁(r + x, b'; c; z) · (1 − z)^(r + x), the bracket of the BG/NBD and MBG/NBD
/// conditional expectations (Fader, Hardie & Lee 2005 eq. 10; Batislam et al. 2007).
///
/// The direct series converges slowly for large x when z is near 1 (its terms grow like
/// k^(r+x−a)), so unless a > r + x + 1 we use Euler's transformation (A&S 15.3.3)
/// ₂F₁(α, β; c; z) = (1 − z)^(c−α−β) ₂F₁(c − α, c − β; c; z), whose second-argument pair does
/// not grow with x; the powers of (1 − z) then combine into (1 − z)^(c − b').
pub(crate) fn expectation_bracket(r_x: f64, b_prime: f64, c: f64, a: f64, z: f64) -> Result<f64> {
    let ln_1mz = (-z).ln_1p();
    let (hyp, power) = if a > r_x + 1.0 {
        (hyp2f1(r_x, b_prime, c, z)?, r_x)
    } else {
        (hyp2f1(c - r_x, c - b_prime, c, z)?, c - b_prime)
    };
    let bracket = if hyp > 0.0 {
        -(hyp.ln() + power * ln_1mz).exp_m1()
    } else {
        1.0 - hyp * (power * ln_1mz).exp()
    };
    finite(bracket, "the expected-purchases bracket")
}

/// Test support: asserts that `grad` is the gradient of `f` at `theta`, by
/// central differences.
#[cfg(test)]
pub(crate) fn assert_gradient(f: impl Fn(&[f64]) -> f64, theta: &[f64], grad: &[f64]) {
    let h = 1e-6;
    for i in 0..theta.len() {
        let (mut p, mut m) = (theta.to_vec(), theta.to_vec());
        p[i] += h;
        m[i] -= h;
        let num = (f(&p) - f(&m)) / (2.0 * h);
        assert!(
            (num - grad[i]).abs() < 1e-6 * (1.0 + num.abs()),
            "param {i}: {num} vs {}",
            grad[i]
        );
    }
}
