//! BG/NBD, MBG/NBD, Gamma-Gamma and CLV against lifetimes 0.11.3 on the CDNOW data sets
//! (weekly periods, calibration ending 1997-09-30).

mod common;

use chrono::NaiveDate;
use common::{RefCustomer, load_cdnow, read_ref_customers, rel_diff, run_reference};
use portrait_models::btyd::{
    BgNbd, GammaGamma, MbgNbd, TransactionModel, customer_lifetime_value, fit_population,
};
use portrait_models::summary::{CustomerSummary, Period, summarize};

const HORIZON: f64 = 52.0;
const CAL_END: &str = "1997-09-30";

fn reference(
    source: &[&str],
    model: &str,
    dir: &std::path::Path,
) -> (serde_json::Value, Vec<RefCustomer>) {
    reference_with_freq(source, model, "W", dir)
}

fn reference_with_freq(
    source: &[&str],
    model: &str,
    freq: &str,
    dir: &std::path::Path,
) -> (serde_json::Value, Vec<RefCustomer>) {
    let out = dir.to_str().expect("utf-8 temp dir");
    let h = HORIZON.to_string();
    let mut args = vec!["fit"];
    args.extend_from_slice(source);
    args.extend_from_slice(&[
        "--calibration-end",
        CAL_END,
        "--freq",
        freq,
        "--horizon",
        &h,
        "--model",
        model,
        "--out",
        out,
    ]);
    let json = run_reference("btyd_reference.py", &args);
    (json, read_ref_customers(&dir.join("customers.csv")))
}

fn our_summaries(which: &str) -> Vec<(u64, CustomerSummary)> {
    our_summaries_by(which, Period::Week)
}

fn our_summaries_by(which: &str, period: Period) -> Vec<(u64, CustomerSummary)> {
    let tx = load_cdnow(which);
    let end = NaiveDate::parse_from_str(CAL_END, "%Y-%m-%d").unwrap();
    summarize(&tx, end, period).expect("summarize CDNOW")
}

/// Summaries must equal lifetimes' `summary_data_from_transaction_data` customer by customer.
fn check_summaries(ours: &[(u64, CustomerSummary)], theirs: &[RefCustomer]) {
    assert_eq!(ours.len(), theirs.len(), "number of customers");
    for ((id, s), r) in ours.iter().zip(theirs) {
        assert_eq!(*id, r.customer_id);
        assert_eq!(f64::from(s.frequency), r.frequency, "x of {id}");
        assert_eq!(s.recency, r.recency, "t_x of {id}");
        assert_eq!(s.age, r.age, "T of {id}");
        assert!(
            (s.monetary - r.monetary_value).abs() <= 1e-9 * r.monetary_value.abs().max(1.0),
            "m of {id}"
        );
    }
}

fn check_params(what: &str, ours: &[f64], theirs: &serde_json::Value, names: &[&str]) {
    for (v, n) in ours.iter().zip(names) {
        let t = theirs[n].as_f64().expect("reference parameter");
        let d = rel_diff(*v, t);
        eprintln!("{what} {n}: ours {v:.8} lifetimes {t:.8} rel diff {d:.2e}");
        assert!(d < 0.01, "{what} {n}: ours {v} vs lifetimes {t}");
    }
}

/// Compare per-customer predictions; returns the largest differences seen.
fn check_predictions<M: TransactionModel>(
    model: &M,
    gg: &GammaGamma,
    ours: &[(u64, CustomerSummary)],
    theirs: &[RefCustomer],
) {
    let (mut d_alive, mut d_exp, mut d_spend, mut d_clv) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    for ((id, s), r) in ours.iter().zip(theirs) {
        let alive = model.probability_alive(s).unwrap();
        let expected = model.expected_purchases(HORIZON, s).unwrap();
        let spend = gg.expected_spend(s.frequency, s.monetary).unwrap();
        let clv = customer_lifetime_value(model, gg, s, 12, 0.01, Period::Week).unwrap();
        d_alive = d_alive.max((alive - r.p_alive).abs());
        d_exp = d_exp.max((expected - r.expected_purchases).abs());
        d_spend = d_spend.max(rel_diff(spend, r.expected_spend));
        d_clv = d_clv.max((clv - r.clv).abs() / r.clv.abs().max(1.0));
        assert!(
            (alive - r.p_alive).abs() < 1e-3,
            "P(alive) of {id}: {alive} vs {}",
            r.p_alive
        );
        assert!(
            (expected - r.expected_purchases).abs() < 1e-3,
            "E[purchases] of {id}: {expected} vs {}",
            r.expected_purchases
        );
        assert!(
            rel_diff(spend, r.expected_spend) < 1e-3,
            "E[spend] of {id}: {spend} vs {}",
            r.expected_spend
        );
        assert!(
            (clv - r.clv).abs() < 1e-2 * r.clv.abs().max(1.0),
            "CLV of {id}: {clv} vs {}",
            r.clv
        );
    }
    eprintln!(
        "max |dP(alive)| {d_alive:.2e}, max |dE[purchases]| {d_exp:.2e}, max rel dE[spend] {d_spend:.2e}, max rel dCLV {d_clv:.2e}"
    );
}

fn bgnbd_against_lifetimes(which: &str) {
    if common::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (json, theirs) = reference(&["--cdnow", which], "bgnbd", dir.path());
    let ours = our_summaries(which);
    check_summaries(&ours, &theirs);
    let data: Vec<CustomerSummary> = ours.iter().map(|(_, s)| *s).collect();
    let fit = fit_population(&data).expect("fit CDNOW");
    let bg = fit.bgnbd.params;
    let tm = &json["transaction_model"];
    check_params(
        "BG/NBD",
        &[bg.r, bg.alpha, bg.a, bg.b],
        tm,
        &["r", "alpha", "a", "b"],
    );
    let ll = tm["log_likelihood"].as_f64().unwrap();
    eprintln!(
        "log-likelihood ours {} lifetimes {ll}",
        fit.bgnbd.log_likelihood
    );
    // Ours is the maximum, so it may only be higher, and by very little.
    assert!(fit.bgnbd.log_likelihood >= ll - 1e-6 * ll.abs());
    assert!(fit.bgnbd.log_likelihood - ll < 1e-4 * ll.abs());
    let gg = fit.gamma_gamma.params;
    check_params(
        "Gamma-Gamma",
        &[gg.p, gg.q, gg.v],
        &json["gamma_gamma"],
        &["p", "q", "v"],
    );
    assert_eq!(
        fit.gamma_gamma.customers as u64,
        json["gamma_gamma_customers"].as_u64().unwrap()
    );
    check_predictions(&bg, &gg, &ours, &theirs);
}

#[test]
fn bgnbd_gamma_gamma_match_lifetimes_on_cdnow_sample() {
    bgnbd_against_lifetimes("sample");
}

#[test]
fn bgnbd_gamma_gamma_match_lifetimes_on_cdnow_master() {
    bgnbd_against_lifetimes("master");
}

#[test]
fn mbgnbd_matches_lifetimes_on_cdnow_sample() {
    if common::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (json, theirs) = reference(&["--cdnow", "sample"], "mbgnbd", dir.path());
    let ours = our_summaries("sample");
    check_summaries(&ours, &theirs);
    let data: Vec<CustomerSummary> = ours.iter().map(|(_, s)| *s).collect();
    let m = MbgNbd::fit(&data).expect("fit MBG/NBD").params;
    let tm = &json["transaction_model"];
    check_params(
        "MBG/NBD",
        &[m.r, m.alpha, m.a, m.b],
        tm,
        &["r", "alpha", "a", "b"],
    );
    let gg = fit_population(&data).unwrap().gamma_gamma.params;
    check_predictions(&m, &gg, &ours, &theirs);
    // The point of MBG/NBD: one-time buyers are not all certainly alive.
    let one_timer = data.iter().find(|c| c.frequency == 0).unwrap();
    assert!(m.probability_alive(one_timer).unwrap() < 1.0);
    assert_eq!(
        BgNbd {
            r: m.r,
            alpha: m.alpha,
            a: m.a,
            b: m.b
        }
        .probability_alive(one_timer)
        .unwrap(),
        1.0
    );
}

/// Daily and monthly periods follow lifetimes' `freq="D"` / `freq="M"` summary rules too; the
/// daily fit is compared as well (lifetimes' own fitter does not converge on monthly CDNOW).
#[test]
fn daily_and_monthly_summaries_match_lifetimes() {
    if common::skip() {
        return;
    }
    for (freq, period) in [("D", Period::Day), ("M", Period::Month)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let cmd = if freq == "D" { "fit" } else { "summary" };
        let json = run_reference(
            "btyd_reference.py",
            &[
                cmd,
                "--cdnow",
                "sample",
                "--calibration-end",
                CAL_END,
                "--freq",
                freq,
                "--out",
                out,
            ],
        );
        let theirs = read_ref_customers(&dir.path().join("customers.csv"));
        let ours = our_summaries_by("sample", period);
        assert_eq!(ours.len(), theirs.len());
        for ((id, s), r) in ours.iter().zip(&theirs) {
            assert_eq!(*id, r.customer_id);
            assert_eq!(f64::from(s.frequency), r.frequency, "{freq}: x of {id}");
            assert!(
                (s.recency - r.recency).abs() < 1e-12,
                "{freq}: t_x of {id}: {} vs {}",
                s.recency,
                r.recency
            );
            assert!(
                (s.age - r.age).abs() < 1e-12,
                "{freq}: T of {id}: {} vs {}",
                s.age,
                r.age
            );
            assert!((s.monetary - r.monetary_value).abs() <= 1e-9 * r.monetary_value.max(1.0));
        }
        if freq == "D" {
            let data: Vec<CustomerSummary> = ours.iter().map(|(_, s)| *s).collect();
            let bg = BgNbd::fit(&data).unwrap().params;
            let tm = &json["transaction_model"];
            check_params(
                freq,
                &[bg.r, bg.alpha, bg.a, bg.b],
                tm,
                &["r", "alpha", "a", "b"],
            );
        }
    }
}
