//! Running a command and reading the CSV files the models tests compare.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

/// The command's standard output; its standard error in the panic if it failed.
pub(crate) fn output(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// customer_id -> column -> value, from a CSV with a header.
pub(crate) fn table(path: &Path) -> BTreeMap<String, HashMap<String, f64>> {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let headers = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            let values = headers
                .iter()
                .zip(r.iter())
                .skip(1)
                .filter_map(|(h, v)| v.parse().ok().map(|v| (h.to_owned(), v)))
                .collect();
            (r[0].to_owned(), values)
        })
        .collect()
}
