//! k-means inertia and silhouette against scikit-learn, on the RFM features of the CDNOW
//! sample customers (weekly summary up to 1997-09-30).

mod common;

use std::io::Write;

use chrono::NaiveDate;
use portrait_models::kmeans::{CustomerFeatures, Settings, kmeans, silhouette, standardise};
use portrait_models::summary::{Period, summarize};

#[test]
fn kmeans_inertia_within_one_percent_of_sklearn() {
    if common::skip() {
        return;
    }
    let tx = common::load_cdnow("sample");
    let end = NaiveDate::from_ymd_opt(1997, 9, 30).unwrap();
    let summaries = summarize(&tx, end, Period::Week).unwrap();
    let customers: Vec<CustomerFeatures> = summaries
        .iter()
        .map(|(_, s)| CustomerFeatures {
            recency: s.age - s.recency,
            frequency: f64::from(s.frequency) + 1.0,
            monetary: s.monetary,
            extra: vec![],
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.csv");
    let mut f = std::fs::File::create(&features).unwrap();
    writeln!(f, "recency,frequency,monetary").unwrap();
    for c in &customers {
        writeln!(f, "{},{},{}", c.recency, c.frequency, c.monetary).unwrap();
    }
    drop(f);
    let std = standardise(&customers).unwrap();
    let settings = Settings {
        restarts: 20,
        ..Settings::default()
    };
    let ks = [2usize, 3, 4, 5, 6];
    let mut ours = Vec::new();
    for &k in &ks {
        let c = kmeans(&std.points, k, &settings).unwrap();
        let labels: String = c.labels.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.path().join(format!("labels_{k}.txt")), labels).unwrap();
        let s = silhouette(&std.points, &c.labels, usize::MAX, 0).unwrap();
        ours.push((k, c.inertia, s));
    }
    let ks_arg = ks.map(|k| k.to_string()).join(",");
    let sk = common::run_reference(
        "kmeans_reference.py",
        &[
            "--features",
            features.to_str().unwrap(),
            "--ks",
            &ks_arg,
            "--labels-dir",
            dir.path().to_str().unwrap(),
        ],
    );
    for (k, inertia, sil) in ours {
        let e = &sk[k.to_string()];
        let theirs = e["inertia"].as_f64().unwrap();
        let their_sil = e["silhouette_of_labels"].as_f64().unwrap();
        eprintln!(
            "k={k}: inertia ours {inertia:.4} sklearn {theirs:.4}; silhouette ours {sil:.6} sklearn {their_sil:.6}"
        );
        assert!(
            inertia <= theirs * 1.01,
            "k={k}: inertia {inertia} vs scikit-learn {theirs}"
        );
        assert!(
            (sil - their_sil).abs() < 1e-9,
            "k={k}: silhouette {sil} vs scikit-learn {their_sil}"
        );
    }
}
