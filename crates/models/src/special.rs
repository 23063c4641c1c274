//! Special functions the BTYD models need.

use crate::{Error, Result};

/// ln Γ(x) for x > 0 (libm's implementation, sign discarded because we only call it on x > 0).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    libm::lgamma_r(x).0
}

/// ψ(x) = d/dx ln Γ(x) for x > 0.
///
/// Shift x up with ψ(x) = ψ(x + 1) − 1/x until x ≥ 10, then use the asymptotic series
/// ψ(x) ~ ln x − 1/(2x) − Σ B₂ₖ/(2k x²ᵏ) (Abramowitz & Stegun 6.3.18), whose truncation
/// after the x⁻¹² term is below 1e-15 for x ≥ 10.
pub(crate) fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0
                                    - inv2 * (1.0 / 132.0 - inv2 * (691.0 / 32760.0))))));
    acc + x.ln() - 0.5 * inv - series
}

/// ln(eˣ + eʸ) without overflow.
pub(crate) fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// Numerically stable logistic function 1 / (1 + e⁻ˣ).
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Maximum number of series terms before [`hyp2f1`] gives up.
const HYP2F1_MAX_TERMS: usize = 200_000;

/// Gauss hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1 and c > 0.
///
/// No maintained Rust crate provides ₂F₁, so this sums the defining series
/// ₂F₁(a, b; c; z) = Σₖ (a)ₖ (b)ₖ / ((c)ₖ k!) zᵏ (Abramowitz & Stegun 15.1.1), term by term
/// with tₖ₊₁ = tₖ · (a+k)(b+k) / ((c+k)(k+1)) · z, until a term no longer changes the sum in
/// the 16th digit *and* the ratio of consecutive terms is below 1 (so later terms shrink
/// geometrically and the tail is bounded by the last term). Callers in this crate first apply
/// Euler's transformation (A&S 15.3.3) so that c is large relative to a and b and the series
/// converges quickly even close to z = 1.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    if !(0.0..1.0).contains(&z) || c <= 0.0 || !a.is_finite() || !b.is_finite() {
        return Err(Error::Numerical(format!(
            "hyp2f1({a}, {b}; {c}; {z}) is outside the supported domain"
        )));
    }
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    for k in 0..HYP2F1_MAX_TERMS {
        let k = k as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        sum += term;
        if term == 0.0 || (term.abs() <= 1e-16 * sum.abs() && ratio.abs() < 1.0) {
            return if sum.is_finite() {
                Ok(sum)
            } else {
                Err(Error::Numerical(format!(
                    "hyp2f1({a}, {b}; {c}; {z}) overflowed"
                )))
            };
        }
    }
    Err(Error::Numerical(format!(
        "hyp2f1({a}, {b}; {c}; {z}) did not converge in {HYP2F1_MAX_TERMS} terms"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_matches_derivative_of_ln_gamma() {
        for &x in &[0.01_f64, 0.3, 1.0, 2.5, 7.0, 40.0, 1234.5] {
            let h = 1e-5 * x.max(1.0);
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(
                (digamma(x) - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                "x={x}"
            );
        }
        // ψ(1) = −γ (Euler–Mascheroni)
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-14);
    }

    #[test]
    fn hyp2f1_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z (A&S 15.1.3)
        for &z in &[0.0, 0.1, 0.5, 0.9, 0.99] {
            let want = if z == 0.0 {
                1.0
            } else {
                -(1.0_f64 - z).ln() / z
            };
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            assert!((got - want).abs() < 1e-12 * want, "z={z}: {got} vs {want}");
        }
        // ₂F₁(a, b; b; z) = (1 − z)^(−a)
        let got = hyp2f1(0.7, 3.0, 3.0, 0.8).unwrap();
        assert!((got - 0.2_f64.powf(-0.7)).abs() < 1e-12 * got);
    }

    #[test]
    fn hyp2f1_satisfies_eulers_transformation() {
        // Two different series must agree: ₂F₁(a,b;c;z) = (1−z)^(c−a−b) ₂F₁(c−a,c−b;c;z).
        for &(a, b, c, z) in &[
            (0.3, 2.4, 3.1, 0.5),
            (5.2, 7.4, 6.6, 0.9),
            (1.2, -0.2, 4.0, 0.97),
        ] {
            let lhs: f64 = hyp2f1(a, b, c, z).unwrap();
            let rhs = (1.0 - z).powf(c - a - b) * hyp2f1(c - a, c - b, c, z).unwrap();
            assert!(
                (lhs - rhs).abs() < 1e-10 * lhs.abs(),
                "{a} {b} {c} {z}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn hyp2f1_rejects_bad_domain() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, 2.0, f64::NAN).is_err());
        assert!(hyp2f1(1.0, 1.0, -1.0, 0.5).is_err());
    }
}
