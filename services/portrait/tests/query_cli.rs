//! `portrait query` prints the proto3 canonical JSON: camelCase names, int64
//! as strings, enums by name. The expected keys and names are written here
//! from the protos, the values read from the gRPC answer's structs.

mod support;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AssociationBasis, AssociationOrder, AssociationsRequest};
use portrait_proto::v1::{
    Filter, GetCustomerRequest, ListRfmRequest, OverviewRequest, RfmOrder, RfmSettings,
    RfmThresholdKind, SegmentDistributionRequest,
};
use serde_json::Value;

async fn query(gateway: std::net::SocketAddr, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
        .arg("query")
        .args(args)
        .arg("--gateway")
        .arg(format!("http://{gateway}"))
        .output()
        .await
        .expect("portrait query runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_prints_canonical_json() {
    let fed = support::fed_stack(5).await;
    let addr = fed.stack.gateway_addr;
    let filter = Filter {
        as_of_date: fed.as_of.clone(),
        ..Default::default()
    };
    let mut grpc = PortraitServiceClient::new(support::channel(addr).await);

    let overview = query(addr, &["overview", "--as-of", &fed.as_of]).await;
    assert_eq!(
        keys(&overview),
        [
            "activeCustomers",
            "averageOrderValueFen",
            "lifetimeValueFen",
            "orders",
            "revenueFen",
            "totalCustomers",
        ]
    );
    let want = grpc
        .get_overview(OverviewRequest {
            filter: Some(filter.clone()),
        })
        .await
        .expect("overview")
        .into_inner();
    assert!(want.orders > 0, "the chain has orders");
    // int64 travels as a decimal string, double as a number.
    assert_eq!(overview["orders"], Value::String(want.orders.to_string()));
    assert_eq!(
        overview["revenueFen"],
        Value::String(want.revenue_fen.to_string())
    );
    assert_eq!(
        overview["averageOrderValueFen"].as_f64(),
        Some(want.average_order_value_fen)
    );

    // With every log on: the JSON alone on stdout, the logs on stderr.
    let logged = tokio::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
        .args(["query", "overview", "--as-of", &fed.as_of])
        .arg("--gateway")
        .arg(format!("http://{addr}"))
        .env("RUST_LOG", "debug")
        .output()
        .await
        .expect("portrait query runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&logged.stdout),
        String::from_utf8_lossy(&logged.stderr),
    );
    assert!(logged.status.success(), "{stderr}");
    let parsed: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not only the JSON ({e}):\n{stdout}"));
    assert_eq!(parsed, overview);
    assert!(
        stderr.contains("DEBUG") && stderr.contains("reaching the gateway"),
        "no debug log on stderr:\n{stderr}"
    );
    assert!(!stdout.contains("DEBUG"), "{stdout}");

    let segments = query(addr, &["segments", "--as-of", &fed.as_of]).await;
    let want = grpc
        .get_segment_distribution(SegmentDistributionRequest {
            filter: Some(filter),
            ..Default::default()
        })
        .await
        .expect("segments")
        .into_inner();
    let printed = segments["segments"].as_array().expect("segments list");
    assert_eq!(printed.len(), 8);
    for (p, w) in printed.iter().zip(&want.segments) {
        assert_eq!(
            keys(p),
            ["customers", "label", "revenueFen", "segment"],
            "{p}"
        );
        let name = p["segment"].as_str().expect("an enum is printed by name");
        assert!(name.starts_with("SEGMENT_"), "{name}");
        assert_eq!(name, w.segment().as_str_name());
        assert_eq!(p["customers"], Value::String(w.customers.to_string()));
    }
    assert_eq!(printed[0]["segment"], "SEGMENT_IMPORTANT_VALUE");

    // One customer: enums by name, the same figures as the rpc.
    let customer = (fed.orders.iter())
        .map(|o| o.customer_id.as_str())
        .find(|c| !c.is_empty())
        .expect("a known customer");
    let printed = query(addr, &["customer", customer, "--as-of", &fed.as_of]).await;
    let want = grpc
        .get_customer(GetCustomerRequest {
            customer_id: customer.into(),
            filter: Some(Filter {
                as_of_date: fed.as_of.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("customer")
        .into_inner();
    let b = want.behaviour.expect("behaviour");
    let shown = &printed["behaviour"];
    assert_eq!(shown["orders"], Value::String(b.orders.to_string()));
    assert_eq!(
        shown["favouriteChannel"],
        b.favourite_channel().as_str_name()
    );
    assert!(
        (shown["favouriteHourBand"].as_str()).is_some_and(|n| n.starts_with("HOUR_BAND_")),
        "{shown}"
    );
    let days = query(addr, &["customer-days", customer, "--as-of", &fed.as_of]).await;
    assert!(days["days"].as_array().is_some_and(|d| !d.is_empty()));
    let list = query(
        addr,
        &["customers", "--order-by", "recency", "--as-of", &fed.as_of],
    )
    .await;
    let rows = list["customers"].as_array().expect("a list");
    assert!(!rows.is_empty());
    assert!(
        rows[0]["segment"]
            .as_str()
            .is_some_and(|s| s.starts_with("SEGMENT_"))
    );
    assert!(
        rows[0]["risk"]
            .as_str()
            .is_some_and(|s| s.starts_with("PRIORITY_"))
    );
    let prefs = query(addr, &["preferences", customer, "--as-of", &fed.as_of]).await;
    assert!(prefs["products"].as_array().is_some_and(|p| !p.is_empty()));
    // The RFM flags become the request's order, selection and settings.
    let args = [
        "rfm",
        "--as-of",
        &fed.as_of,
        "--order-by",
        "score",
        "--descending",
        "--r-score",
        "4,5",
        "--thresholds",
        "fixed",
        "--fixed-frequency",
        "1",
        "--window-days",
        "45",
        "--limit",
        "5",
    ];
    let rfm = query(addr, &args).await;
    let want = grpc
        .list_rfm(ListRfmRequest {
            filter: Some(fed_filter(&fed.as_of)),
            page_size: 5,
            order_by: RfmOrder::Score as i32,
            descending: true,
            r_scores: vec![4, 5],
            rfm: Some(RfmSettings {
                window_days: Some(45),
                thresholds: RfmThresholdKind::Fixed as i32,
                fixed_frequency: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("rfm")
        .into_inner();
    assert_eq!(rfm["thresholds"]["kind"], "RFM_THRESHOLD_KIND_FIXED");
    assert_eq!(rfm["thresholds"]["frequency"], 1.0);
    let printed = rfm["customers"].as_array().expect("customers list");
    assert_eq!(printed.len(), 5);
    for (p, w) in printed.iter().zip(&want.customers) {
        assert_eq!(p["customerId"], w.customer_id.as_str());
        assert_eq!(p["segment"], w.segment().as_str_name());
        assert!(
            p["segment"]
                .as_str()
                .is_some_and(|s| s.starts_with("SEGMENT_"))
        );
    }
    assert_eq!(rfm["nextPageToken"], want.next_page_token.as_str());
    let args = [
        "associations",
        "--basis",
        "customer",
        "--rank-by",
        "confidence",
        "--limit",
        "3",
    ];
    let printed = query(addr, &args).await;
    assert_eq!(
        keys(&printed),
        ["associations", "basis", "filter", "population"]
    );
    assert_eq!(printed["basis"], "ASSOCIATION_BASIS_CUSTOMER");
    let want = grpc
        .get_associations(AssociationsRequest {
            basis: AssociationBasis::Customer as i32,
            order_by: AssociationOrder::Confidence as i32,
            limit: 3,
            ..Default::default()
        })
        .await
        .expect("associations")
        .into_inner();
    assert_eq!(
        printed["population"],
        Value::String(want.population.to_string())
    );
    let rules = printed["associations"].as_array().expect("rules");
    assert_eq!(rules.len(), want.associations.len());
    assert!(!rules.is_empty(), "the chain has rules");
    for (p, w) in rules.iter().zip(&want.associations) {
        assert_eq!(p["antecedentId"], w.antecedent_id.as_str());
        assert_eq!(p["count"], Value::String(w.count.to_string()));
        assert_eq!(p["lift"].as_f64(), Some(w.lift));
    }
    for (kind, name) in [
        ("customer-order", "ANOMALY_KIND_CUSTOMER_ORDER"),
        ("refund-rate", "ANOMALY_KIND_REFUND_RATE"),
    ] {
        let args = [
            "anomalies",
            "--kind",
            kind,
            "--min-score",
            "0.01",
            "--as-of",
            &fed.as_of,
        ];
        let printed = query(addr, &args).await;
        let listed = printed["anomalies"].as_array().expect("anomalies");
        assert!(!listed.is_empty(), "the chain has {kind} anomalies");
        assert!(listed.iter().all(|a| a["kind"] == name), "{printed}");
    }
    effect_queries(addr, &mut grpc).await;
    // The publisher's first recompute comes within segments.debounce_ms.
    let mut printed = Value::Null;
    for _ in 0..100 {
        printed = query(addr, &["segment-flows", "--from", "2000-01-01"]).await;
        if printed["flows"].as_array().is_some_and(|f| !f.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        keys(&printed),
        [
            "daysKept",
            "duplicatesSkipped",
            "flows",
            "lastSequence",
            "transitionsApplied"
        ]
    );
    let flows = printed["flows"].as_array().expect("flows");
    assert!(!flows.is_empty(), "customers entered segments: {printed}");
    let entered = |f: &&Value| f["from"] == "SEGMENT_UNSPECIFIED";
    assert!(flows.iter().any(|f| entered(&f)), "{printed}");
    for f in flows {
        assert_eq!(keys(f), ["customers", "date", "from", "to"]);
        assert!(f["to"].as_str().is_some_and(|s| s.starts_with("SEGMENT_")));
        assert!(f["customers"].is_string(), "int64 as a string: {f}");
    }
    fed.stop().await;
}

/// The suggestion loop's subcommands print enum names and the rpc's figures.
async fn effect_queries(
    addr: std::net::SocketAddr,
    grpc: &mut PortraitServiceClient<tonic::transport::Channel>,
) {
    let listed = grpc
        .list_suggestions(portrait_proto::v1::ListSuggestionsRequest::default())
        .await
        .expect("suggestions")
        .into_inner();
    let recommendation = portrait_proto::v1::SuggestionType::Recommendation as i32;
    let (id, kind) = (listed.suggestions.iter())
        .find(|s| s.r#type != recommendation)
        .map(|s| (s.id.clone(), s.r#type().as_str_name()))
        .expect("a suggestion to adopt");
    let id = id.as_str();
    let args = [
        "adopt",
        id,
        "--control-percent",
        "25",
        "--tracking-days",
        "7",
    ];
    let adopted = query(addr, &args).await;
    assert_eq!(adopted["status"], "SUGGESTION_STATUS_ADOPTED");
    assert_eq!(adopted["type"], kind);
    assert_eq!(adopted["controlPercent"], 25);
    assert_eq!(adopted["windowDays"], 7);
    let effect = query(addr, &["effect", id]).await;
    let want = grpc
        .get_suggestion_effect(portrait_proto::v1::GetSuggestionEffectRequest { id: id.into() })
        .await
        .expect("effect")
        .into_inner();
    let treated = want.treated.unwrap_or_default();
    assert_eq!(
        effect["treated"]["customers"],
        Value::String(treated.customers.to_string())
    );
    let members = query(addr, &["members", id, "--group", "control", "--limit", "3"]).await;
    let listed = members["members"].as_array().expect("members");
    assert!(
        listed.iter().all(|m| m["group"] == "EFFECT_GROUP_CONTROL"),
        "{members}"
    );
    let dismissed = query(addr, &["dismiss", id]).await;
    assert_eq!(dismissed["status"], "SUGGESTION_STATUS_DISMISSED");
    let adopted = query(addr, &["adopted"]).await;
    assert_eq!(adopted["suggestions"][0]["id"], id);
}

fn fed_filter(as_of: &str) -> Filter {
    Filter {
        as_of_date: as_of.to_owned(),
        ..Default::default()
    }
}
