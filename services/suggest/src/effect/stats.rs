//! The 95 % intervals of the effect figures, written out so the method is
//! visible and the tests can check it against published values:
//! Newcombe's hybrid score interval (his method 10, from two Wilson
//! intervals) for a difference of proportions, the log (Katz) interval for a
//! ratio of proportions, and Welch's t interval for a difference of means.

/// The standard normal's 97.5 % quantile.
pub(crate) const Z: f64 = 1.959_963_984_540_054;

/// Wilson's score interval of the proportion `r / n` (n > 0).
pub(crate) fn wilson(r: i64, n: i64) -> (f64, f64) {
    let (r, n) = (r as f64, n as f64);
    let p = r / n;
    let z2 = Z * Z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// p₁ − p₂ with Newcombe's hybrid score interval (n₁, n₂ > 0).
pub(crate) fn rate_difference(r1: i64, n1: i64, r2: i64, n2: i64) -> (f64, f64, f64) {
    let (p1, p2) = (r1 as f64 / n1 as f64, r2 as f64 / n2 as f64);
    let (l1, u1) = wilson(r1, n1);
    let (l2, u2) = wilson(r2, n2);
    let d = p1 - p2;
    let low = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let high = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    (d, low, high)
}

/// p₁ / p₂ with the log interval: ln ratio ± z·√(1/r₁ − 1/n₁ + 1/r₂ − 1/n₂);
/// none when either group has no responder.
pub(crate) fn rate_ratio(r1: i64, n1: i64, r2: i64, n2: i64) -> Option<(f64, f64, f64)> {
    if r1 <= 0 || r2 <= 0 || n1 <= 0 || n2 <= 0 {
        return None;
    }
    let (r1, n1, r2, n2) = (r1 as f64, n1 as f64, r2 as f64, n2 as f64);
    let ratio = (r1 / n1) / (r2 / n2);
    let se = (1.0 / r1 - 1.0 / n1 + 1.0 / r2 - 1.0 / n2).max(0.0).sqrt();
    Some((ratio, ratio * (-Z * se).exp(), ratio * (Z * se).exp()))
}

/// A group's mean and sample variance (n − 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    pub(crate) n: i64,
    pub(crate) mean: f64,
    pub(crate) variance: f64,
}

impl Moments {
    /// Two passes, so a large mean does not swamp the deviations.
    pub(crate) fn of(values: &[i64]) -> Self {
        let n = values.len() as i64;
        if n == 0 {
            return Self {
                n,
                mean: 0.0,
                variance: 0.0,
            };
        }
        let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
        let squares: f64 = values.iter().map(|v| (*v as f64 - mean).powi(2)).sum();
        let variance = if n > 1 { squares / (n - 1) as f64 } else { 0.0 };
        Self { n, mean, variance }
    }
}

/// mean₁ − mean₂ with Welch's interval: ± t(0.975, ν)·√(s₁²/n₁ + s₂²/n₂),
/// ν by Welch–Satterthwaite; none under 2 members in either group. Without
/// any spread the interval is the difference itself.
pub(crate) fn welch(a: Moments, b: Moments) -> Option<(f64, f64, f64)> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let d = a.mean - b.mean;
    let (va, vb) = (a.variance / a.n as f64, b.variance / b.n as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return Some((d, d, d));
    }
    let df = se2 * se2 / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let half = t_quantile_975(df) * se2.sqrt();
    Some((d, d - half, d + half))
}

/// Student's t 97.5 % quantile for `df` > 0 degrees of freedom: the root of
/// the distribution function, by bisection (60 halvings reach f64's precision).
pub(crate) fn t_quantile_975(df: f64) -> f64 {
    let (mut low, mut high) = (0.0_f64, 1.0e3_f64);
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if t_cdf(mid, df) < 0.975 {
            low = mid;
        } else {
            high = mid;
        }
        if high - low <= 1e-13 * high {
            break;
        }
    }
    0.5 * (low + high)
}

/// P(T ≤ t) for t ≥ 0: 1 − I_x(ν/2, 1/2) / 2 with x = ν / (ν + t²).
fn t_cdf(t: f64, df: f64) -> f64 {
    1.0 - 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// The regularized incomplete beta function I_x(a, b), by its continued
/// fraction (modified Lentz), on the side where it converges fast.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    d = 1.0 / if d.abs() < TINY { TINY } else { d };
    let mut h = d;
    for m in 1..500 {
        let m = f64::from(m);
        for numerator in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + numerator * d;
            d = 1.0 / if d.abs() < TINY { TINY } else { d };
            c = 1.0 + numerator / c;
            if c.abs() < TINY {
                c = TINY;
            }
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 by Lanczos' approximation (g = 7, 9 terms).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series where it is accurate.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) {
        assert!((a - b).abs() <= tolerance, "{a} vs {b}");
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Student's t table, 97.5 %.
        close(t_quantile_975(1.0), 12.706_204_736, 1e-6);
        close(t_quantile_975(2.0), 4.302_652_730, 1e-8);
        close(t_quantile_975(10.0), 2.228_138_852, 1e-8);
        close(t_quantile_975(30.0), 2.042_272_456, 1e-8);
        close(t_quantile_975(1e7), Z, 1e-6);
        // A fractional Welch–Satterthwaite df: between its neighbours.
        let q = t_quantile_975(10.5);
        assert!(q < 2.228_138_852 && q > 2.200_985_160, "{q}");
    }

    #[test]
    fn newcombe_matches_his_worked_examples() {
        // Newcombe (1998), Statistics in Medicine 17:873, table II, method 10.
        let (d, l, u) = rate_difference(56, 70, 48, 80);
        close(d, 0.2, 1e-12);
        close(l, 0.0524, 5e-5);
        close(u, 0.3339, 5e-5);
        let (_, l, u) = rate_difference(9, 10, 3, 10);
        close(l, 0.1705, 5e-5);
        close(u, 0.8090, 5e-5);
        let (_, l, u) = rate_difference(10, 10, 0, 20);
        close(l, 0.6791, 5e-5);
        close(u, 1.0, 5e-5);
    }

    #[test]
    fn wilson_and_the_log_ratio() {
        // Newcombe (1998b) table I: 81/263 → 0.2553 to 0.3662.
        let (l, u) = wilson(81, 263);
        close(l, 0.2553, 5e-5);
        close(u, 0.3662, 5e-5);
        let (ratio, l, u) = rate_ratio(20, 100, 10, 100).unwrap_or_default();
        close(ratio, 2.0, 1e-12);
        let se = (1.0_f64 / 20.0 - 0.01 + 0.1 - 0.01).sqrt();
        close(l, 2.0 * (-Z * se).exp(), 1e-12);
        close(u, 2.0 * (Z * se).exp(), 1e-12);
        assert_eq!(rate_ratio(0, 10, 1, 10), None);
    }

    #[test]
    fn welch_by_hand() {
        let a = Moments::of(&[10, 20, 30]);
        let b = Moments::of(&[1, 2, 3, 4]);
        close(a.mean, 20.0, 1e-12);
        close(a.variance, 100.0, 1e-12);
        close(b.variance, 5.0 / 3.0, 1e-12);
        let (d, l, u) = welch(a, b).unwrap_or_default();
        close(d, 17.5, 1e-12);
        let (va, vb) = (100.0 / 3.0, 5.0 / 12.0);
        let df = (va + vb) * (va + vb) / (va * va / 2.0 + vb * vb / 3.0);
        let half = t_quantile_975(df) * (va + vb).sqrt();
        close(l, 17.5 - half, 1e-9);
        close(u, 17.5 + half, 1e-9);
        assert_eq!(welch(a, Moments::of(&[5])), None);
        assert_eq!(
            welch(Moments::of(&[3, 3]), Moments::of(&[1, 1])),
            Some((2.0, 2.0, 2.0))
        );
    }
}
