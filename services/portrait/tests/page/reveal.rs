//! The reveal button in the customer drawer, in Debian's chromium: an
//! admin's drawer offers 显示, which shows the customer's plain phone and ids
//! and says the reveal is audited; an analyst's drawer has no such button.

use portrait_testkit::browser;
use serde_json::{Value, json};

fn drive(python: &str, spec: Value) -> Value {
    let report = browser::drive(python, &spec.to_string());
    let report: Value = serde_json::from_str(&report).expect("a JSON report");
    assert_eq!(report["errors"], json!([]), "no console errors");
    report["timings"].clone()
}

/// Whether the browser ran (false: skipped, said on stderr).
pub(crate) async fn admin_reveals_and_analyst_sees_no_button(
    addr: std::net::SocketAddr,
    admin: &str,
    analyst: &str,
    customer_id: &str,
    want: (&str, &str, &str),
) -> bool {
    let Some(python) = browser::python() else {
        return false;
    };
    let spec = |token: &str, reveal: bool| {
        json!({
            "mode": "reveal",
            "url": format!("http://{addr}"),
            "token": token,
            "customerId": customer_id,
            "reveal": reveal,
            "screenshots": browser::screenshots(env!("CARGO_TARGET_TMPDIR"), "reveal"),
        })
    };
    let (admin_spec, analyst_spec) = (spec(admin, true), spec(analyst, false));
    let py = python.clone();
    let shown = tokio::task::spawn_blocking(move || drive(&py, admin_spec))
        .await
        .expect("the browser ran");
    assert_eq!(shown["role"], "admin", "{shown}");
    assert_eq!(shown["buttons"], 1, "{shown}");
    assert_eq!(shown["state"], "ready", "{shown}");
    let text = |k: &str| shown["shown"][k].as_str().unwrap_or_default().to_owned();
    let or_dash = |s: &str| {
        if s.is_empty() {
            "—".to_owned()
        } else {
            s.to_owned()
        }
    };
    assert_eq!(
        (text("openId"), text("memberId"), text("phone")),
        (or_dash(want.0), or_dash(want.1), or_dash(want.2)),
        "{shown}"
    );
    let said = shown["said"].as_str().unwrap_or_default();
    assert!(
        said.contains("审计"),
        "the page says the reveal is audited: {shown}"
    );
    let offered = shown["offer"].as_str().unwrap_or_default();
    assert!(offered.contains("审计"), "and says so before: {shown}");

    let plain = tokio::task::spawn_blocking(move || drive(&python, analyst_spec))
        .await
        .expect("the browser ran");
    assert_eq!(plain["role"], "analyst", "{plain}");
    assert_eq!(
        plain["drawer"], "ready",
        "the analyst sees the portrait: {plain}"
    );
    assert_eq!(
        plain["buttons"], 0,
        "no reveal button for an analyst: {plain}"
    );
    assert_eq!(plain["offer"], "", "{plain}");
    true
}
