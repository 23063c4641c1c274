//! Benchmark (not a test): fit BG/NBD + Gamma-Gamma on 1,000,000 synthetic customers and
//! print our time beside lifetimes' time on the same data.
//!
//!     PORTRAIT_PYTHON=<venv>/bin/python cargo bench -p portrait-models --bench btyd
//!
//! BENCH_CUSTOMERS overrides the population size.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use portrait_models::btyd::{BgNbd, fit_population};
use portrait_models::summary::CustomerSummary;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Standard normal by Box–Muller.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Gamma(shape, scale 1) by Marsaglia & Tsang (2000), boosted for shape < 1.
fn gamma(rng: &mut StdRng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.random::<f64>();
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// One customer from the BG/NBD + Gamma-Gamma generative story (weeks; CDNOW-like values).
fn customer(rng: &mut StdRng) -> CustomerSummary {
    let (r, alpha, a, b) = (0.25, 4.4, 0.8, 2.4);
    let (p, q, v) = (6.0, 3.5, 15.0);
    let age = rng.random_range(1.0..52.0_f64).floor();
    let lambda = gamma(rng, r) / alpha;
    let ga = gamma(rng, a);
    let drop = ga / (ga + gamma(rng, b));
    let nu = gamma(rng, q) / v;
    let (mut t, mut x, mut tx, mut spend) = (0.0, 0u32, 0.0, 0.0);
    loop {
        let u: f64 = 1.0 - rng.random::<f64>();
        t += -u.ln() / lambda.max(1e-12);
        if t > age {
            break;
        }
        x += 1;
        tx = t;
        spend += gamma(rng, p) / nu;
        if rng.random::<f64>() < drop {
            break;
        }
    }
    let monetary = if x > 0 { spend / f64::from(x) } else { 0.0 };
    CustomerSummary {
        frequency: x,
        recency: tx,
        age,
        monetary,
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = StdRng::seed_from_u64(2005);
    let data: Vec<CustomerSummary> = (0..n).map(|_| customer(&mut rng)).collect();
    let repeaters = data.iter().filter(|c| c.frequency > 0).count();
    println!("{n} synthetic customers, {repeaters} with repeat purchases");

    let start = Instant::now();
    let fit = fit_population(&data).expect("fit synthetic population");
    let ours = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let _ = BgNbd::fit(&data).expect("fit BG/NBD");
    println!(
        "(BG/NBD alone, second run: {:.3} s)",
        start.elapsed().as_secs_f64()
    );
    let bg = fit.bgnbd.params;
    let gg = fit.gamma_gamma.params;
    println!(
        "ours:      {ours:8.3} s  BG/NBD r={:.4} alpha={:.4} a={:.4} b={:.4} ({} it)  GG p={:.4} q={:.4} v={:.4} ({} it)",
        bg.r,
        bg.alpha,
        bg.a,
        bg.b,
        fit.bgnbd.iterations,
        gg.p,
        gg.q,
        gg.v,
        fit.gamma_gamma.iterations
    );

    let Some(python) = std::env::var_os("PORTRAIT_PYTHON") else {
        println!("lifetimes: not run (set PORTRAIT_PYTHON to the reference virtualenv's python)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("summary.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create summary.csv"));
    writeln!(f, "frequency,recency,T,monetary_value").expect("write");
    for c in &data {
        writeln!(f, "{},{},{},{}", c.frequency, c.recency, c.age, c.monetary).expect("write");
    }
    drop(f);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/btyd_reference.py");
    let out = Command::new(python)
        .arg(script)
        .args(["time", "--summary"])
        .arg(&path)
        .output()
        .expect("run lifetimes");
    if !out.status.success() {
        println!("lifetimes failed: {}", String::from_utf8_lossy(&out.stderr));
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("lifetimes JSON");
    let theirs = v["bgnbd_seconds"].as_f64().unwrap_or(f64::NAN)
        + v["gamma_gamma_seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "lifetimes: {theirs:8.3} s  BG/NBD {} GG {}",
        v["bgnbd"], v["gamma_gamma"]
    );
    println!("speed-up:  {:.1}x", theirs / ours);
}
