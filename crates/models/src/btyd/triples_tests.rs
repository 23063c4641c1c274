//! The likelihoods summed over distinct (x, t_x, T) triples (or (x, m) pairs) with counts equal
//! the plain per-customer sums, written here again straight from the papers' formulas.

use libm::lgamma;

use super::{BgNbd, GammaGamma, MbgNbd};
use crate::summary::CustomerSummary;

fn ln_beta(a: f64, b: f64) -> f64 {
    lgamma(a) + lgamma(b) - lgamma(a + b)
}

fn ln_sum_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// A weekly population simulated as the models assume (a buying rate per customer, a chance to
/// drop out after each purchase), from a fixed LCG: triples and spends repeat heavily.
fn population(n: usize) -> Vec<CustomerSummary> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let age = 1 + (uniform() * 52.0) as u32;
            // Exponential rates (Gamma with r = 1) and Beta(1, 3) drop-out chances.
            let rate = (-0.25 * (1.0 - uniform()).ln()).min(1.0);
            let drop = 1.0 - (1.0 - uniform()).powf(1.0 / 3.0);
            let (mut frequency, mut last, mut spend) = (0_u32, 0_u32, 0.0);
            for week in 1..=age {
                if uniform() < rate {
                    frequency += 1;
                    last = week;
                    spend += (20 + (uniform() * 40.0) as u32) as f64 * 100.0;
                    if uniform() < drop {
                        break;
                    }
                }
            }
            CustomerSummary {
                frequency,
                recency: f64::from(last),
                age: f64::from(age),
                monetary: if frequency > 0 {
                    spend / f64::from(frequency)
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// Fader, Hardie & Lee (2005) eq. 6, per customer.
fn bgnbd_plain(m: &BgNbd, data: &[CustomerSummary]) -> f64 {
    let BgNbd { r, alpha, a, b } = *m;
    data.iter()
        .map(|c| {
            let x = f64::from(c.frequency);
            let common = lgamma(r + x) - lgamma(r) + r * alpha.ln();
            let alive = ln_beta(a, b + x) - ln_beta(a, b) + common - (r + x) * (alpha + c.age).ln();
            if c.frequency == 0 {
                return alive;
            }
            let dropped = ln_beta(a + 1.0, b + x - 1.0) - ln_beta(a, b) + common
                - (r + x) * (alpha + c.recency).ln();
            ln_sum_exp(alive, dropped)
        })
        .sum()
}

/// Batislam, Denizel & Filiztekin (2007) eq. 7, per customer.
fn mbgnbd_plain(m: &MbgNbd, data: &[CustomerSummary]) -> f64 {
    let MbgNbd { r, alpha, a, b } = *m;
    data.iter()
        .map(|c| {
            let x = f64::from(c.frequency);
            let common = lgamma(r + x) - lgamma(r) + r * alpha.ln();
            let alive =
                ln_beta(a, b + x + 1.0) - ln_beta(a, b) + common - (r + x) * (alpha + c.age).ln();
            let dropped = ln_beta(a + 1.0, b + x) - ln_beta(a, b) + common
                - (r + x) * (alpha + c.recency).ln();
            ln_sum_exp(alive, dropped)
        })
        .sum()
}

/// Hardie's note 025 eq. 1a, per repeat customer.
fn gamma_gamma_plain(g: &GammaGamma, data: &[CustomerSummary]) -> f64 {
    let GammaGamma { p, q, v } = *g;
    data.iter()
        .filter(|c| c.frequency > 0 && c.monetary > 0.0)
        .map(|c| {
            let (x, m) = (f64::from(c.frequency), c.monetary);
            lgamma(p * x + q) - lgamma(p * x) - lgamma(q)
                + q * v.ln()
                + (p * x - 1.0) * m.ln()
                + p * x * x.ln()
                - (p * x + q) * (x * m + v).ln()
        })
        .sum()
}

fn close(what: &str, grouped: f64, plain: f64) {
    let rel = (grouped - plain).abs() / plain.abs();
    assert!(
        rel < 1e-12,
        "{what}: grouped {grouped} vs plain {plain} ({rel:e})"
    );
}

#[test]
fn population_repeats_triples() {
    let data = population(20_000);
    let triples = super::common::Triples::new(&data);
    assert!(triples.len() < 10_000, "{} triples", triples.len());
    assert_eq!(triples.count.iter().sum::<f64>(), 20_000.0);
}

#[test]
fn transaction_likelihoods_over_triples_equal_the_per_customer_sums() {
    let data = population(20_000);
    for (r, alpha, a, b) in [
        (0.24, 4.4, 0.79, 2.4),
        (1.3, 0.7, 2.5, 0.4),
        (0.05, 30.0, 0.3, 9.0),
    ] {
        let bg = BgNbd { r, alpha, a, b };
        close(
            "BG/NBD",
            bg.log_likelihood(&data).unwrap(),
            bgnbd_plain(&bg, &data),
        );
        let mbg = MbgNbd { r, alpha, a, b };
        close(
            "MBG/NBD",
            mbg.log_likelihood(&data).unwrap(),
            mbgnbd_plain(&mbg, &data),
        );
    }
}

#[test]
fn fits_report_the_per_customer_likelihood_and_ignore_order() {
    let data = population(5_000);
    let bg = BgNbd::fit(&data).unwrap();
    close(
        "BG/NBD fit",
        bg.log_likelihood,
        bgnbd_plain(&bg.params, &data),
    );
    let mbg = MbgNbd::fit(&data).unwrap();
    close(
        "MBG/NBD fit",
        mbg.log_likelihood,
        mbgnbd_plain(&mbg.params, &data),
    );
    let (x, m): (Vec<u32>, Vec<f64>) = data
        .iter()
        .filter(|c| c.frequency > 0 && c.monetary > 0.0)
        .map(|c| (c.frequency, c.monetary))
        .unzip();
    let gg = GammaGamma::fit(&x, &m).unwrap();
    close(
        "Gamma-Gamma fit",
        gg.log_likelihood,
        gamma_gamma_plain(&gg.params, &data),
    );
    // Grouping sorts, so the customers' order cannot change the fit at all.
    let mut reversed = data.clone();
    reversed.reverse();
    assert_eq!(BgNbd::fit(&reversed).unwrap().params, bg.params);
}
