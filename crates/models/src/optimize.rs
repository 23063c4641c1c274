//! A small BFGS minimiser for the few-parameter likelihoods of this crate.
//!
//! The models are fitted on log-parameters (as lifetimes does), so the problem is
//! unconstrained and smooth; BFGS with an Armijo backtracking line search and analytic
//! gradients converges in a few dozen iterations.

use crate::{Error, Result};

/// Where the minimiser stopped.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub iterations: usize,
}

/// Settings for [`bfgs`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Stop when every gradient component is below this.
    pub gtol: f64,
    pub max_iterations: usize,
}

impl Default for Settings {
    fn default() -> Self {
        // Tighter than scipy's default (1e-5) and than lifetimes' tol (1e-7) so that our optimum
        // is at least as close to the true maximum-likelihood point as the reference's.
        Settings {
            gtol: 1e-9,
            max_iterations: 2000,
        }
    }
}

/// If the line search cannot improve any more, a gradient this small still counts as an
/// optimum (rounding noise of a sum over a million customers stops further progress).
const STALL_GTOL: f64 = 1e-5;

/// Nor can it when the decrease the quasi-Newton model still promises, gᵀHg, is this small
/// a part of the objective: at 1M customers (10M orders) the BG/NBD fit walked a flat ridge
/// (a and b past e¹², their ratio fixed) with a gradient of 1.2·10⁻⁵ and gᵀHg of 7·10⁻⁹ on
/// an objective of 8.8, and took 2,000 steps of 10⁻¹⁵ that changed nothing before failing.
const STALL_DECREMENT: f64 = 1e-8;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// Minimise `f`, which returns the value and gradient at a point, from `x0`.
pub(crate) fn bfgs<F>(mut f: F, x0: &[f64], settings: Settings) -> Result<Minimum>
where
    F: FnMut(&[f64]) -> (f64, Vec<f64>),
{
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    if !fx.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "objective is not finite at the starting point".into(),
        ));
    }
    // Inverse Hessian approximation, row-major; identity until the first curvature pair.
    let mut h = identity(n);
    let mut first_step = true;
    for iteration in 0..settings.max_iterations {
        if max_abs(&g) < settings.gtol {
            return Ok(Minimum {
                x,
                iterations: iteration,
            });
        }
        let mut d: Vec<f64> = (0..n).map(|i| -dot(&h[i * n..(i + 1) * n], &g)).collect();
        let mut slope = dot(&d, &g);
        if slope >= 0.0 {
            // The approximation lost positive definiteness: restart from steepest descent.
            h = identity(n);
            d = g.iter().map(|v| -v).collect();
            slope = dot(&d, &g);
        }
        let mut step = if first_step {
            1.0 / max_abs(&g).max(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi + step * di).collect();
            let (fxn, gn) = f(&xn);
            if fxn.is_finite()
                && gn.iter().all(|v| v.is_finite())
                && fxn <= fx + 1e-4 * step * slope
            {
                accepted = Some((xn, fxn, gn));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fxn, gn)) = accepted else {
            if max_abs(&g) < STALL_GTOL {
                return Ok(Minimum {
                    x,
                    iterations: iteration,
                });
            }
            return Err(Error::NoConvergence(format!(
                "line search failed after {iteration} iterations (gradient {:e})",
                max_abs(&g)
            )));
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            if first_step {
                let scale = sy / dot(&y, &y);
                h.iter_mut().for_each(|v| *v *= scale);
                first_step = false;
            }
            update_inverse_hessian(&mut h, &s, &y, sy);
        }
        let stalled = (fx - fxn).abs() <= 1e-16 * fx.abs().max(1.0);
        x = xn;
        fx = fxn;
        g = gn;
        if stalled && (max_abs(&g) < STALL_GTOL || at_precision_limit(fx, &g, &h)) {
            return Ok(Minimum {
                x,
                iterations: iteration + 1,
            });
        }
    }
    Err(Error::NoConvergence(format!(
        "no optimum after {} iterations (gradient {:e})",
        settings.max_iterations,
        max_abs(&g)
    )))
}

/// The quasi-Newton model's remaining decrease, gᵀHg (H positive definite), is below what
/// the objective can still show.
fn at_precision_limit(fx: f64, g: &[f64], h: &[f64]) -> bool {
    let n = g.len();
    let hg: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], g)).collect();
    let decrement = dot(g, &hg);
    (0.0..=STALL_DECREMENT * fx.abs().max(1.0)).contains(&decrement)
}

fn identity(n: usize) -> Vec<f64> {
    let mut h = vec![0.0; n * n];
    (0..n).for_each(|i| h[i * n + i] = 1.0);
    h
}

/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1 / (yᵀ s) (Nocedal & Wright eq. 6.17).
fn update_inverse_hessian(h: &mut [f64], s: &[f64], y: &[f64], sy: f64) {
    let n = s.len();
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], y)).collect();
    let yhy = dot(y, &hy);
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosen = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (f, g)
        };
        let m = bfgs(rosen, &[-1.2, 1.0], Settings::default()).unwrap();
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    /// `10 + c |x − 1|³` seen through a grid of `q` in its value, as a mean over a million
    /// customers is seen through rounding: near the minimum no step shows a decrease, while
    /// the gradient, exact, is not small.
    fn quantised(c: f64, q: f64) -> impl FnMut(&[f64]) -> (f64, Vec<f64>) {
        move |x: &[f64]| {
            let d = x[0] - 1.0;
            let f = 10.0 + c * d.abs().powi(3);
            ((f / q).round() * q, vec![3.0 * c * d * d.abs()])
        }
    }

    #[test]
    fn a_minimum_finer_than_the_objective_shows_is_accepted_and_a_coarse_one_is_not() {
        // Flat within 10⁻⁴ of the minimum, where the gradient is up to 3·10⁻⁵ and the model
        // promises about 10⁻⁹ more: the optimum as far as the objective can say, recognised
        // as such (without the rule the steps wander on for 40-odd iterations).
        let few = Settings {
            max_iterations: 25,
            ..Settings::default()
        };
        let m = bfgs(quantised(1e3, 1e-9), &[0.3], few).unwrap();
        assert!((m.x[0] - 1.0).abs() < 1e-4, "{m:?}");
        // Flat within 2·10⁻³, where the model still promises 10⁻⁵: not an optimum.
        assert!(bfgs(quantised(1e3, 1e-5), &[0.3], Settings::default()).is_err());
    }

    #[test]
    fn reports_an_unbounded_objective() {
        // f = −x has no minimum: the fit must end in an error, not loop or panic.
        let r = bfgs(
            |x: &[f64]| (-x[0], vec![-1.0]),
            &[0.0],
            Settings {
                gtol: 1e-9,
                max_iterations: 50,
            },
        );
        assert!(r.is_err());
    }
}
