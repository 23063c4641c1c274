//! The effect oracle: SQL over the raw orders of a suggestion's frozen
//! members on the window's days, and the intervals recomputed by scipy
//! (`effect_ci.py`).

use std::collections::BTreeMap;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{GetSuggestionEffectRequest, SuggestionEffect};
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::Oracle;

const ID: &str = crate::effect::ID;

async fn effect(gateway: &mut PortraitServiceClient<Channel>) -> SuggestionEffect {
    gateway
        .get_suggestion_effect(GetSuggestionEffectRequest { id: ID.into() })
        .await
        .expect("effect")
        .into_inner()
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-6 * want.abs().max(1.0),
        "{what}: served {got}, recomputed {want}"
    );
}

/// The served effect against SQL over the raw orders of the members, and
/// its intervals against Python.
pub(crate) async fn assert_effect(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    members: &[(String, bool)],
) -> SuggestionEffect {
    let e = effect(gateway).await;
    let (ids, control): (Vec<String>, Vec<bool>) = members.iter().cloned().unzip();
    let rows = sqlx::query(
        "WITH m AS (SELECT * FROM unnest($1::text[], $2::bool[]) AS m(customer_id, control)) \
         SELECT m.customer_id, m.control, COUNT(raw.order_id)::bigint, COALESCE(SUM(raw.amount), 0)::bigint \
         FROM m LEFT JOIN raw ON raw.customer_id = m.customer_id \
           AND raw.day >= $3::date AND raw.day < $4::date \
         GROUP BY m.customer_id, m.control",
    )
    .bind(&ids)
    .bind(&control)
    .bind(&e.window_start)
    .bind(&e.window_end)
    .fetch_all(&oracle.pool)
    .await
    .expect("effect oracle");
    let mut revenues: BTreeMap<bool, Vec<i64>> = BTreeMap::new();
    let mut sums: BTreeMap<bool, (i64, i64, i64, i64)> = BTreeMap::new();
    for r in &rows {
        let (group, orders, revenue): (bool, i64, i64) = (r.get(1), r.get(2), r.get(3));
        revenues.entry(group).or_default().push(revenue);
        let s = sums.entry(group).or_default();
        *s = (
            s.0 + 1,
            s.1 + i64::from(orders > 0),
            s.2 + orders,
            s.3 + revenue,
        );
    }
    let treated = e.treated.unwrap_or_default();
    let held = e.control.unwrap_or_default();
    for (group, served) in [(false, &treated), (true, &held)] {
        let (n, responders, orders, revenue) = sums[&group];
        assert_eq!(
            (
                served.customers,
                served.responders,
                served.orders,
                served.revenue_fen
            ),
            (n, responders, orders, revenue),
            "group control={group}"
        );
        close(
            served.response_rate,
            responders as f64 / n as f64,
            "response rate",
        );
        close(
            served.revenue_per_customer_fen,
            revenue as f64 / n as f64,
            "revenue per customer",
        );
    }
    assert!(
        treated.response_rate > held.response_rate,
        "the scenario's treated buy more"
    );
    let lift = e.lift.expect("a lift with both groups");
    close(
        lift.rate_difference,
        treated.response_rate - held.response_rate,
        "difference",
    );
    let realised = e.realised.expect("realised");
    let nt = treated.customers as f64;
    close(
        realised.extra_responders,
        treated.responders as f64 - held.responders as f64 / held.customers as f64 * nt,
        "extra responders",
    );
    close(
        realised.extra_orders,
        treated.orders as f64 - held.orders as f64 / held.customers as f64 * nt,
        "extra orders",
    );
    close(
        realised.extra_revenue_fen,
        treated.revenue_fen as f64 - held.revenue_fen as f64 / held.customers as f64 * nt,
        "extra revenue",
    );
    if let Some(python) = portrait_testkit::server_env("PORTRAIT_PYTHON", "Python with scipy") {
        let spec = serde_json::json!({
            "treated": revenues[&false], "control": revenues[&true],
            "treated_responders": treated.responders, "control_responders": held.responders,
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/effect_ci.py");
        let out = std::process::Command::new(python)
            .arg(script)
            .arg(spec.to_string())
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("the script's json");
        let pair = |k: &str| [0, 1].map(|i| want[k][i].as_f64().unwrap_or(f64::NAN));
        let ci = lift.rate_difference_ci.unwrap_or_default();
        let [low, high] = pair("difference");
        close(ci.low, low, "difference low");
        close(ci.high, high, "difference high");
        let ci = lift.rate_ratio_ci.unwrap_or_default();
        let [low, high] = pair("ratio");
        close(ci.low, low, "ratio low");
        close(ci.high, high, "ratio high");
        let ci = lift.revenue_per_customer_difference_ci.unwrap_or_default();
        let [low, high] = pair("welch");
        close(ci.low, low, "welch low");
        close(ci.high, high, "welch high");
    }
    e
}
