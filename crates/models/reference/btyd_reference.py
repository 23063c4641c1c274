#!/usr/bin/env python3
"""Reference BTYD figures from the `lifetimes` package, for portrait-models' tests.

Run with the interpreter of the virtualenv built from requirements.txt
(`$PORTRAIT_PYTHON`). Nothing here is computed by our own code.

    btyd_reference.py locate
        JSON {"sample": path, "master": path} of the CDNOW files shipped in lifetimes.

    btyd_reference.py fit (--cdnow sample|master | --csv FILE) --calibration-end YYYY-MM-DD
                          --freq W --horizon H --out DIR [--model bgnbd|mbgnbd]
                          [--clv-months N --discount D]
        Builds the calibration summary with lifetimes.utils.summary_data_from_transaction_data,
        fits the transaction model and the Gamma-Gamma model with lifetimes' default settings
        (penalizer_coef 0), prints the parameters as JSON on stdout and writes
        DIR/customers.csv with one row per customer.

    btyd_reference.py summary (--cdnow sample|master | --csv FILE) --calibration-end YYYY-MM-DD
                              --freq D|W|M --out DIR
        Only the calibration summary, as DIR/customers.csv (lifetimes' fitter does not converge
        on every period choice, e.g. monthly CDNOW, but the summary rules still apply).

    btyd_reference.py holdout --csv FILE --calibration-end YYYY-MM-DD --observation-end YYYY-MM-DD
                              --freq W [--model bgnbd|mbgnbd]
        lifetimes.utils.calibration_and_holdout_data, the transaction model fitted on the
        calibration columns, and plot_calibration_purchases_vs_holdout_purchases' table (mean
        holdout purchases, actual and predicted, by calibration frequency; the last row here
        holds 7 or more) with the whole population's means, as JSON on stdout.

    btyd_reference.py time --summary FILE
        Fits BG/NBD and Gamma-Gamma on a summary CSV (frequency, recency, T, monetary_value)
        and prints the wall time of the two fits as JSON (for the benchmark).
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.simplefilter("ignore")

import lifetimes  # noqa: E402
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

DATASETS = os.path.join(os.path.dirname(lifetimes.__file__), "datasets")


def cdnow_path(name):
    return os.path.join(DATASETS, {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}[name])


def load_transactions(args):
    if args.cdnow == "sample":
        # columns: original id, sample id (1..2357), yyyymmdd, number of CDs, dollars
        df = pd.read_csv(cdnow_path("sample"), sep=r"\s+", header=None,
                         names=["orig", "customer_id", "date", "cds", "amount"], dtype={"date": str})
    elif args.cdnow == "master":
        df = pd.read_csv(cdnow_path("master"), sep=r"\s+", header=0,
                         names=["customer_id", "date", "cds", "amount"], dtype={"date": str})
    else:
        df = pd.read_csv(args.csv, dtype={"customer_id": str, "date": str})
    df["date"] = pd.to_datetime(df["date"])
    return df[["customer_id", "date", "amount"]]


def log_likelihood(fitter_cls, params, summary):
    """Total log-likelihood in the data's own time unit, from lifetimes' own objective."""
    f = summary["frequency"].to_numpy()
    rec = summary["recency"].to_numpy()
    T = summary["T"].to_numpy()
    w = np.ones_like(rec)
    log_params = np.log(np.array([params["r"], params["alpha"], params["a"], params["b"]]))
    return -fitter_cls._negative_log_likelihood(log_params, f, rec, T, w, 0.0) * len(rec)


def make_summary(args):
    tx = load_transactions(args)
    return summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=args.calibration_end, freq=args.freq)


def cmd_summary(args):
    summary = make_summary(args)
    os.makedirs(args.out, exist_ok=True)
    summary.index.name = "customer_id"
    summary.to_csv(os.path.join(args.out, "customers.csv"), float_format="%.17g")
    json.dump({"customers": int(len(summary))}, sys.stdout)


def cmd_fit(args):
    summary = make_summary(args)
    fitter_cls = ModifiedBetaGeoFitter if args.model == "mbgnbd" else BetaGeoFitter
    bg = fitter_cls(penalizer_coef=0.0)
    bg.fit(summary["frequency"], summary["recency"], summary["T"])
    rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    gg = GammaGammaFitter(penalizer_coef=0.0)
    gg.fit(rep["frequency"], rep["monetary_value"])

    out = summary.copy()
    out["p_alive"] = bg.conditional_probability_alive(
        summary["frequency"], summary["recency"], summary["T"])
    out["expected_purchases"] = bg.conditional_expected_number_of_purchases_up_to_time(
        args.horizon, summary["frequency"], summary["recency"], summary["T"])
    period_days = {"D": 1.0, "W": 7.0, "M": 365.2425 / 12.0}[args.freq]
    for days in (30, 90):
        out[f"expected_purchases_{days}d"] = (
            bg.conditional_expected_number_of_purchases_up_to_time(
                days / period_days, summary["frequency"], summary["recency"], summary["T"]))
    out["expected_spend"] = gg.conditional_expected_average_profit(
        summary["frequency"], summary["monetary_value"])
    out["clv"] = gg.customer_lifetime_value(
        bg, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=args.clv_months, discount_rate=args.discount, freq=args.freq)
    os.makedirs(args.out, exist_ok=True)
    out.index.name = "customer_id"
    out.to_csv(os.path.join(args.out, "customers.csv"), float_format="%.17g")

    p = bg.params_
    params = {k: float(p[k]) for k in ["r", "alpha", "a", "b"]}
    json.dump({
        "customers": int(len(summary)),
        "transaction_model": dict(params, log_likelihood=float(log_likelihood(fitter_cls, params, summary))),
        "gamma_gamma": {k: float(gg.params_[k]) for k in ["p", "q", "v"]},
        "gamma_gamma_customers": int(len(rep)),
    }, sys.stdout)


def cmd_holdout(args):
    from lifetimes.utils import calibration_and_holdout_data
    args.cdnow = None
    tx = load_transactions(args)
    ch = calibration_and_holdout_data(
        tx, "customer_id", "date", calibration_period_end=args.calibration_end,
        observation_period_end=args.observation_end, freq=args.freq)
    fitter_cls = ModifiedBetaGeoFitter if args.model == "mbgnbd" else BetaGeoFitter
    m = fitter_cls(penalizer_coef=0.0)
    m.fit(ch["frequency_cal"], ch["recency_cal"], ch["T_cal"])
    duration = float(ch["duration_holdout"].iloc[0])
    ch["predicted"] = m.conditional_expected_number_of_purchases_up_to_time(
        duration, ch["frequency_cal"], ch["recency_cal"], ch["T_cal"])
    ch["row"] = ch["frequency_cal"].clip(upper=7).astype(int)

    def row(group):
        return {"customers": int(len(group)),
                "actual_purchases": float(group["frequency_holdout"].mean()),
                "predicted_purchases": float(group["predicted"].mean())}

    json.dump({
        "duration_periods": duration,
        "parameters": {k: float(m.params_[k]) for k in ["r", "alpha", "a", "b"]},
        "rows": [dict(row(g), frequency=int(k), and_more=bool(k == 7))
                 for k, g in ch.groupby("row")],
        "total": row(ch),
    }, sys.stdout)


def cmd_time(args):
    s = pd.read_csv(args.summary)
    t0 = time.perf_counter()
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
    t1 = time.perf_counter()
    rep = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    gg = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
    t2 = time.perf_counter()
    json.dump({
        "bgnbd_seconds": t1 - t0, "gamma_gamma_seconds": t2 - t1,
        "bgnbd": {k: float(bg.params_[k]) for k in ["r", "alpha", "a", "b"]},
        "gamma_gamma": {k: float(gg.params_[k]) for k in ["p", "q", "v"]},
    }, sys.stdout)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("locate")
    f = sub.add_parser("fit")
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("--cdnow", choices=["sample", "master"])
    src.add_argument("--csv")
    f.add_argument("--calibration-end", required=True)
    f.add_argument("--freq", default="W", choices=["D", "W", "M"])
    f.add_argument("--horizon", type=float, default=52.0)
    f.add_argument("--model", default="bgnbd", choices=["bgnbd", "mbgnbd"])
    f.add_argument("--clv-months", type=int, default=12)
    f.add_argument("--discount", type=float, default=0.01)
    f.add_argument("--out", required=True)
    sm = sub.add_parser("summary")
    src = sm.add_mutually_exclusive_group(required=True)
    src.add_argument("--cdnow", choices=["sample", "master"])
    src.add_argument("--csv")
    sm.add_argument("--calibration-end", required=True)
    sm.add_argument("--freq", default="W", choices=["D", "W", "M"])
    sm.add_argument("--out", required=True)
    h = sub.add_parser("holdout")
    h.add_argument("--csv", required=True)
    h.add_argument("--calibration-end", required=True)
    h.add_argument("--observation-end", required=True)
    h.add_argument("--freq", default="W", choices=["D", "W", "M"])
    h.add_argument("--model", default="bgnbd", choices=["bgnbd", "mbgnbd"])
    t = sub.add_parser("time")
    t.add_argument("--summary", required=True)
    args = ap.parse_args()
    if args.cmd == "locate":
        json.dump({"sample": cdnow_path("sample"), "master": cdnow_path("master")}, sys.stdout)
    elif args.cmd == "fit":
        cmd_fit(args)
    elif args.cmd == "holdout":
        cmd_holdout(args)
    elif args.cmd == "summary":
        cmd_summary(args)
    else:
        cmd_time(args)


if __name__ == "__main__":
    main()
