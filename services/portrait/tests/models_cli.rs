//! `portrait models btyd` on the CDNOW sample agrees with the `lifetimes` package
//! run on the very same CSV file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::cli::{output, table};

fn python() -> Option<String> {
    portrait_testkit::server_env("PORTRAIT_PYTHON", "the Python reference libraries")
}

fn reference_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/models/reference/btyd_reference.py")
}

#[test]
fn btyd_command_agrees_with_lifetimes_on_the_cdnow_sample() {
    let Some(python) = python() else {
        return;
    };
    let located: serde_json::Value = serde_json::from_str(&output(
        Command::new(&python).arg(reference_script()).arg("locate"),
    ))
    .expect("json");
    let sample = located["sample"].as_str().expect("sample path");
    // CDNOW_sample.txt: original id, customer id, yyyymmdd, CDs, dollars.
    let dir = tempfile::tempdir().expect("dir");
    let tx = dir.path().join("tx.csv");
    let mut csv = String::from("customer_id,date,amount\n");
    for line in std::fs::read_to_string(sample).expect("sample").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let d = f[2];
        csv.push_str(&format!(
            "{},{}-{}-{},{}\n",
            f[1],
            &d[..4],
            &d[4..6],
            &d[6..8],
            f[4]
        ));
    }
    std::fs::write(&tx, csv).expect("write csv");

    let ours_csv = dir.path().join("ours.csv");
    let ours: serde_json::Value = serde_json::from_str(&output(
        Command::new(env!("CARGO_BIN_EXE_portrait"))
            .args([
                "models",
                "btyd",
                "--period",
                "week",
                "--calibration-end",
                "1997-09-30",
                "--horizon",
                "52",
            ])
            .arg("--transactions")
            .arg(&tx)
            .arg("--per-customer")
            .arg(&ours_csv),
    ))
    .expect("our json");
    let theirs: serde_json::Value = serde_json::from_str(&output(
        Command::new(&python)
            .arg(reference_script())
            .args([
                "fit",
                "--calibration-end",
                "1997-09-30",
                "--freq",
                "W",
                "--horizon",
                "52",
                "--csv",
            ])
            .arg(&tx)
            .arg("--out")
            .arg(dir.path().join("ref")),
    ))
    .expect("reference json");

    for (ours_key, theirs_key, names) in [
        ("bgnbd", "transaction_model", &["r", "alpha", "a", "b"][..]),
        ("gamma_gamma", "gamma_gamma", &["p", "q", "v"][..]),
    ] {
        for name in names {
            let (a, b) = (
                ours[ours_key][name].as_f64().expect("ours"),
                theirs[theirs_key][name].as_f64().expect("theirs"),
            );
            assert!(
                (a - b).abs() <= 0.01 * b.abs(),
                "{ours_key}.{name}: ours {a}, lifetimes {b}"
            );
        }
    }
    assert_eq!(ours["customers"], theirs["customers"]);

    let (ours, theirs) = (
        table(&ours_csv),
        table(&dir.path().join("ref/customers.csv")),
    );
    assert_eq!(ours.len(), theirs.len());
    for (id, want) in &theirs {
        let got = &ours[id];
        for column in ["p_alive", "expected_purchases"] {
            assert!(
                (got[column] - want[column]).abs() < 1e-3,
                "{id} {column}: ours {}, lifetimes {}",
                got[column],
                want[column]
            );
        }
        let rel = (got["expected_spend"] - want["expected_spend"]).abs()
            / want["expected_spend"].abs().max(1e-9);
        assert!(
            rel < 1e-3,
            "{id} expected_spend: ours {}, lifetimes {}",
            got["expected_spend"],
            want["expected_spend"]
        );
    }
}
