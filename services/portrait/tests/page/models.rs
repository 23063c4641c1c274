//! The 客户画像 view's model panels as the browser read them (page_browser.py's `model` and
//! `flows`) against GetModelFit and GetSegmentFlows; shared by the page tour and models_live
//! (which has a fit in service).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{GetModelFitRequest, ModelFitStatus, SegmentFlowsRequest};
use serde_json::{Value, json};
use tonic::transport::Channel;

fn day_shift(day: &str, days: i64) -> String {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a day");
    (d + chrono::TimeDelta::days(days)).to_string()
}

/// The fit panel shows GetModelFit: its status and model, and the holdout table row by row
/// (customers exactly, the means as the JSON mapping printed them). Returns whether a fit
/// was in service.
pub(crate) async fn check_model_panel(
    grpc: &mut PortraitServiceClient<Channel>,
    state: &Value,
) -> bool {
    let shown = &state["model"];
    let fit = grpc
        .get_model_fit(GetModelFitRequest {})
        .await
        .expect("model fit")
        .into_inner();
    assert_eq!(shown["status"], fit.status().as_str_name(), "{shown}");
    let fitted = !fit.fitted_at.is_empty();
    if fitted {
        assert_eq!(shown["model"], fit.model().as_str_name(), "{shown}");
    }
    let held = (fit.holdout.as_ref()).filter(|h| h.status() == ModelFitStatus::Fitted);
    let mut want: Vec<Value> = Vec::new();
    if let Some(h) = held {
        let row = |key: String, r: &portrait_proto::v1::HoldoutRow| {
            json!({
                "frequency": key,
                "customers": r.customers.to_string(),
                "actual": r.actual_purchases,
                "predicted": r.predicted_purchases,
            })
        };
        want.extend(h.rows.iter().map(|r| row(r.frequency.to_string(), r)));
        want.extend(h.total.iter().map(|r| row("all".into(), r)));
        assert!(!want.is_empty(), "a fitted holdout has rows");
    }
    let got: Vec<Value> = (shown["holdout"].as_array().into_iter().flatten())
        .map(|r| {
            let number = |k: &str| r[k].as_str().and_then(|s| s.parse::<f64>().ok());
            json!({
                "frequency": r["frequency"],
                "customers": r["customers"],
                "actual": number("actual"),
                "predicted": number("predicted"),
            })
        })
        .collect();
    assert_eq!(got, want, "holdout table");
    fitted
}

/// The flows panel: GetSegmentFlows over the last 30 real days (segments are assigned as of
/// each real day), summed per (from, to) across days, largest first.
pub(crate) async fn check_flows_panel(grpc: &mut PortraitServiceClient<Channel>, state: &Value) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    let window = [day_shift(&today, -29), day_shift(&today, 1)];
    assert_eq!(state["flowWindow"], json!(window), "the last 30 days");
    let [from_date, to_date] = window;
    let answer = grpc
        .get_segment_flows(SegmentFlowsRequest { from_date, to_date })
        .await
        .expect("flows")
        .into_inner();
    let mut sums: BTreeMap<String, i64> = BTreeMap::new();
    for f in &answer.flows {
        let name = |s: i32| match portrait_proto::v1::Segment::try_from(s) {
            Ok(portrait_proto::v1::Segment::Unspecified) | Err(_) => String::new(),
            Ok(s) => s.as_str_name().to_owned(),
        };
        *sums
            .entry(format!("{}>{}", name(f.from), name(f.to)))
            .or_default() += f.customers;
    }
    let mut want: Vec<(String, i64)> = sums.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let want: Vec<Value> = (want.iter())
        .map(|(k, n)| json!({"flow": k, "customers": n.to_string()}))
        .collect();
    assert_eq!(state["flows"], json!(want), "segment flows");
}
