//! The gateway's JSON API against its gRPC API, on the in-process stack fed a
//! small synthetic chain: for every route the HTTP answer equals the gRPC
//! answer to the same request (rendered with the same canonical JSON mapping),
//! failures equal too, bad input is a 400 naming the field, an unknown route a
//! 404. (tests/openapi.rs checks the OpenAPI document against the routes.)

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::*;
use serde_json::{Value, json};
use support::http::{Answer, get, request, target};
use tonic::transport::Channel;

type Grpc = PortraitServiceClient<Channel>;

/// The HTTP answer is the gRPC answer: the same message, or the same status.
fn same<T: serde::Serialize>(
    what: &str,
    http: &Answer,
    grpc: Result<tonic::Response<T>, tonic::Status>,
) {
    assert_eq!(http.content_type, "application/json", "{what}");
    match grpc {
        Ok(r) => {
            assert_eq!(http.status, 200, "{what}: {}", http.body);
            // Through text, as the HTTP answer came: serde_json's default
            // float parser may land one ulp off the value it printed.
            let text = serde_json::to_string(r.get_ref()).expect("json");
            let want: Value = serde_json::from_str(&text).expect("json");
            assert_eq!(http.body, want, "{what}");
        }
        Err(s) => {
            assert_eq!(http.body["code"], s.code() as i32, "{what}: {}", http.body);
            assert_eq!(http.body["message"], s.message(), "{what}");
        }
    }
}

/// A filter as query parameters and as the message.
struct Case {
    query: Vec<(&'static str, String)>,
    filter: Filter,
}

impl Case {
    fn with<'a>(&'a self, more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut q: Vec<(&str, &str)> = self.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        q.extend_from_slice(more);
        q
    }
}

fn cases(fed: &support::Fed) -> Vec<Case> {
    let as_of = fed.as_of.clone();
    let city = fed.orders[0].city.clone();
    let stores: BTreeSet<&str> = fed.orders.iter().map(|o| o.store_id.as_str()).collect();
    let stores: Vec<String> = stores.into_iter().take(2).map(str::to_owned).collect();
    vec![
        Case {
            query: vec![("asOfDate", as_of.clone())],
            filter: Filter {
                as_of_date: as_of.clone(),
                ..Default::default()
            },
        },
        // The brief's own example: a city and a start day, written without `filter.`.
        Case {
            query: vec![
                ("cities", city.clone()),
                ("fromDate", "2025-03-01".into()),
                ("filter.asOfDate", as_of.clone()),
            ],
            filter: Filter {
                cities: vec![city],
                from_date: "2025-03-01".into(),
                as_of_date: as_of.clone(),
                ..Default::default()
            },
        },
        // Two stores, comma-separated in one parameter.
        Case {
            query: vec![("storeIds", stores.join(",")), ("asOfDate", as_of.clone())],
            filter: Filter {
                store_ids: stores,
                as_of_date: as_of,
                ..Default::default()
            },
        },
    ]
}

async fn portrait_routes(addr: SocketAddr, grpc: &mut Grpc, c: &Case, customer: &str) {
    let f = || Some(c.filter.clone());
    let at = |path: &str, more: &[(&str, &str)]| target(path, &c.with(more));
    let http = get(addr, &at("/v1/overview", &[])).await;
    same(
        "overview",
        &http,
        grpc.get_overview(OverviewRequest { filter: f() }).await,
    );
    let http = get(addr, &at("/v1/segments", &[])).await;
    let rpc = grpc.get_segment_distribution(SegmentDistributionRequest {
        filter: f(),
        ..Default::default()
    });
    same("segments", &http, rpc.await);
    let http = get(addr, &at("/v1/hours", &[])).await;
    let rpc = grpc.get_hour_distribution(HourDistributionRequest { filter: f() });
    same("hours", &http, rpc.await);
    let http = get(addr, &at("/v1/channels", &[])).await;
    let rpc = grpc.get_channel_distribution(ChannelDistributionRequest { filter: f() });
    same("channels", &http, rpc.await);
    let by_revenue = [("limit", "5"), ("orderBy", "PRODUCT_ORDER_REVENUE")];
    let http = get(addr, &at("/v1/products", &by_revenue)).await;
    let rpc = grpc.get_top_products(TopProductsRequest {
        filter: f(),
        limit: 5,
        order_by: ProductOrder::Revenue as i32,
    });
    same("products", &http, rpc.await);
    let http = get(addr, &at("/v1/categories", &[("limit", "3")])).await;
    let rpc = grpc.get_top_categories(TopCategoriesRequest {
        filter: f(),
        limit: 3,
        ..Default::default()
    });
    same("categories", &http, rpc.await);
    let http = get(addr, &at("/v1/rfm", &[("pageSize", "25")])).await;
    let rpc = grpc.list_rfm(ListRfmRequest {
        filter: f(),
        page_size: 25,
        page_token: String::new(),
        ..Default::default()
    });
    same("rfm", &http, rpc.await);
    // The next page, by the token the JSON answer gave.
    let token = http.body["nextPageToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let http = get(
        addr,
        &at("/v1/rfm", &[("pageSize", "25"), ("pageToken", &token)]),
    )
    .await;
    let rpc = grpc.list_rfm(ListRfmRequest {
        filter: f(),
        page_size: 25,
        page_token: token,
        ..Default::default()
    });
    same("rfm page 2", &http, rpc.await);
    let one = [
        ("segment", "SEGMENT_GENERAL_WIN_BACK"),
        ("pageSize", "1000"),
    ];
    let http = get(addr, &at("/v1/rfm", &one)).await;
    let rpc = grpc.list_rfm(ListRfmRequest {
        filter: f(),
        page_size: 1000,
        segment: Segment::GeneralWinBack as i32,
        ..Default::default()
    });
    same("rfm of a segment", &http, rpc.await);
    let listed = http.body["customers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        listed
            .iter()
            .all(|c| c["segment"] == "SEGMENT_GENERAL_WIN_BACK")
    );
    // A list starts the fetch of the habits' items and does not wait for it:
    // the words change once they are held. Compare after that.
    let started = std::time::Instant::now();
    loop {
        let listed = grpc.list_suggestions(ListSuggestionsRequest {
            filter: f(),
            ..Default::default()
        });
        let listed = listed.await.expect("suggestions").into_inner();
        if (listed.suggestions.iter()).all(|s| s.omitted.iter().all(|o| !o.contains("仍在计算")))
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the habits' items never came: {:?}",
            listed
                .suggestions
                .iter()
                .map(|s| &s.omitted)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let more = [("minPriority", "PRIORITY_MEDIUM"), ("pageSize", "10")];
    let http = get(addr, &at("/v1/suggestions", &more)).await;
    let rpc = grpc.list_suggestions(ListSuggestionsRequest {
        filter: f(),
        min_priority: Priority::Medium as i32,
        page_size: 10,
        ..Default::default()
    });
    same("suggestions", &http, rpc.await);
    // One suggestion's audience; the id is a path segment.
    let listed = grpc.list_suggestions(ListSuggestionsRequest {
        filter: f(),
        ..Default::default()
    });
    let listed = listed.await.expect("suggestions").into_inner();
    let id = listed.suggestions.first().expect("a suggestion").id.clone();
    let path = format!("/v1/suggestions/{id}/audience");
    let http = get(addr, &at(&path, &[("pageSize", "7")])).await;
    let rpc = grpc.list_suggestion_audience(portrait_proto::v1::ListSuggestionAudienceRequest {
        suggestion_id: id,
        filter: f(),
        page_size: 7,
        page_token: String::new(),
    });
    same("suggestion audience", &http, rpc.await);

    // One customer's portrait; the id is a path segment.
    let path = format!("/v1/customers/{customer}");
    let http = get(addr, &at(&path, &[])).await;
    let rpc = grpc.get_customer(GetCustomerRequest {
        customer_id: customer.into(),
        filter: f(),
    });
    same("customer", &http, rpc.await);
    let http = get(addr, &at(&format!("{path}/days"), &[("pageSize", "3")])).await;
    let rpc = grpc.list_customer_days(ListCustomerDaysRequest {
        customer_id: customer.into(),
        filter: f(),
        page_size: 3,
        ..Default::default()
    });
    same("customer days", &http, rpc.await);
    let http = get(addr, &at(&format!("{path}/preferences"), &[("limit", "5")])).await;
    let rpc = grpc.get_customer_preferences(CustomerPreferencesRequest {
        customer_id: customer.into(),
        filter: f(),
        limit: 5,
    });
    same("customer preferences", &http, rpc.await);
    let http = get(
        addr,
        &at("/v1/anomalies", &[("minScore", "0.5"), ("pageSize", "7")]),
    )
    .await;
    let rpc = grpc.list_anomalies(ListAnomaliesRequest {
        filter: f(),
        min_score: 0.5,
        page_size: 7,
        ..Default::default()
    });
    same("anomalies", &http, rpc.await);
    let by_store = [("dimension", "SUMMARY_DIMENSION_STORE")];
    let http = get(addr, &at("/v1/summary", &by_store)).await;
    let rpc = grpc.get_portrait_summary(PortraitSummaryRequest {
        filter: f(),
        dimension: SummaryDimension::Store as i32,
    });
    same("summary by store", &http, rpc.await);
    let list = [
        ("orderBy", "CUSTOMER_ORDER_RECENCY"),
        ("atRisk", "true"),
        ("pageSize", "5"),
    ];
    let http = get(addr, &at("/v1/customers", &list)).await;
    let rpc = grpc.list_customers(ListCustomersRequest {
        filter: f(),
        order_by: CustomerOrder::Recency as i32,
        at_risk: true,
        page_size: 5,
        ..Default::default()
    });
    same("customers at risk", &http, rpc.await);
    // Associations take no dates: the case's stores and cities only.
    let (stores, cities) = (c.filter.store_ids.join(","), c.filter.cities.join(","));
    let mut q = vec![
        ("limit", "20"),
        ("orderBy", "ASSOCIATION_ORDER_CONFIDENCE"),
        ("minCount", "2"),
    ];
    for (name, value) in [("storeIds", &stores), ("cities", &cities)] {
        if !value.is_empty() {
            q.push((name, value.as_str()));
        }
    }
    let http = get(addr, &target("/v1/associations", &q)).await;
    let rpc = grpc.get_associations(AssociationsRequest {
        filter: Some(Filter {
            store_ids: c.filter.store_ids.clone(),
            cities: c.filter.cities.clone(),
            ..Default::default()
        }),
        limit: 20,
        order_by: AssociationOrder::Confidence as i32,
        min_count: 2,
        ..Default::default()
    });
    same("associations", &http, rpc.await);
    assert!(
        http.body["associations"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    let by_segment = [("dimension", "SUMMARY_DIMENSION_SEGMENT"), ("limit", "3")];
    let http = get(addr, &at("/v1/patterns", &by_segment)).await;
    let rpc = grpc.get_group_patterns(portrait_proto::v1::GroupPatternsRequest {
        filter: f(),
        dimension: SummaryDimension::Segment as i32,
        limit: 3,
        ..Default::default()
    });
    same("patterns by segment", &http, rpc.await);
    let by_channel = [("dimension", "SUMMARY_DIMENSION_CHANNEL")];
    let http = get(addr, &at("/v1/summary", &by_channel)).await;
    let rpc = grpc.get_portrait_summary(PortraitSummaryRequest {
        filter: f(),
        dimension: SummaryDimension::Channel as i32,
    });
    same("summary by channel", &http, rpc.await);
    rfm_settings_routes(addr, grpc, c).await;
}

/// ListRfm's order, selection and settings and the segments' thresholds as
/// query parameters; a page token is bound to the request that made it.
async fn rfm_settings_routes(addr: SocketAddr, grpc: &mut Grpc, c: &Case) {
    let at = |path: &str, more: &[(&str, &str)]| target(path, &c.with(more));
    let sorted = [
        ("orderBy", "RFM_ORDER_MONETARY"),
        ("descending", "true"),
        ("rScores", "3,4,5"),
        ("thresholds", "RFM_THRESHOLD_KIND_MEDIAN"),
        ("windowDays", "30"),
        ("pageSize", "7"),
    ];
    let req = ListRfmRequest {
        filter: Some(c.filter.clone()),
        page_size: 7,
        order_by: RfmOrder::Monetary as i32,
        descending: true,
        r_scores: vec![3, 4, 5],
        rfm: Some(RfmSettings {
            window_days: Some(30),
            thresholds: RfmThresholdKind::Median as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let http = get(addr, &at("/v1/rfm", &sorted)).await;
    same("sorted rfm", &http, grpc.list_rfm(req.clone()).await);
    assert_eq!(http.body["thresholds"]["kind"], "RFM_THRESHOLD_KIND_MEDIAN");
    assert_eq!(http.body["thresholds"]["windowDays"], 30);
    let token = http.body["nextPageToken"].as_str().unwrap_or_default();
    assert!(!token.is_empty(), "a second page to ask for: {}", http.body);
    let next = [&sorted[..], &[("pageToken", token)]].concat();
    let rpc = grpc.list_rfm(ListRfmRequest {
        page_token: token.to_owned(),
        ..req
    });
    same(
        "sorted rfm page 2",
        &get(addr, &at("/v1/rfm", &next)).await,
        rpc.await,
    );
    // The same token with another order is refused, naming it.
    let other = [("orderBy", "RFM_ORDER_RECENCY"), ("pageToken", token)];
    let answer = get(addr, &at("/v1/rfm", &other)).await;
    assert_eq!((answer.status, violation(&answer)), (400, "pageToken"));

    let fixed = [
        ("thresholds", "RFM_THRESHOLD_KIND_FIXED"),
        ("fixedFrequency", "2"),
        ("fixedMonetaryFen", "5000"),
    ];
    let rpc = grpc.get_segment_distribution(SegmentDistributionRequest {
        filter: Some(c.filter.clone()),
        rfm: Some(RfmSettings {
            thresholds: RfmThresholdKind::Fixed as i32,
            fixed_frequency: Some(2),
            fixed_monetary_fen: Some(5000),
            ..Default::default()
        }),
    });
    let http = get(addr, &at("/v1/segments", &fixed)).await;
    same("segments, fixed thresholds", &http, rpc.await);
    assert_eq!(http.body["thresholds"]["monetaryFen"], 5000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_as_grpc_does() {
    let fed = support::fed_stack(11).await;
    let addr = fed.stack.gateway_addr;
    let mut grpc = PortraitServiceClient::new(support::channel(addr).await);
    let customer = (fed.orders.iter())
        .map(|o| o.customer_id.as_str())
        .find(|c| !c.is_empty())
        .expect("a known customer")
        .to_owned();
    for case in cases(&fed) {
        portrait_routes(addr, &mut grpc, &case, &customer).await;
    }
    effect_routes(addr, &mut grpc).await;
    // An unknown customer is a 404 like gRPC's NOT_FOUND.
    let http = get(addr, "/v1/customers/nobody").await;
    let rpc = grpc.get_customer(GetCustomerRequest {
        customer_id: "nobody".into(),
        filter: None,
    });
    assert_eq!(http.status, 404);
    same("unknown customer", &http, rpc.await);
    // A search: an id finds its customer; a phone is hashed with the key the
    // embedded stack made (sync.pii_key): nobody has it, a 404 that does not
    // repeat the number; nobody is a 404 that does not repeat the query.
    let body = json!({"query": format!(" {customer} ")});
    let found = request(addr, "POST", "/v1/customers:find", Some(&body.to_string())).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["customerId"], customer.as_str());
    assert_eq!(found.body["matchedBy"], "CUSTOMER_MATCH_ID");
    let phone = json!({"query": "+86 138-0013-8000"});
    let unknown = request(addr, "POST", "/v1/customers:find", Some(&phone.to_string())).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(
        !unknown.body.to_string().contains("0013"),
        "{}",
        unknown.body
    );
    let nobody = json!({"query": "nobody-at-all"});
    let missing = request(
        addr,
        "POST",
        "/v1/customers:find",
        Some(&nobody.to_string()),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert!(
        !missing.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nobody")
    );
    // An oracle besides gRPC: every accepted order counts once, as a string.
    let overview = get(addr, &target("/v1/overview", &[("asOfDate", &fed.as_of)])).await;
    assert_eq!(overview.body["orders"], fed.orders.len().to_string());

    // The stores and their cities are those of the accepted orders.
    let http = get(addr, "/v1/stores").await;
    same(
        "stores",
        &http,
        grpc.list_stores(ListStoresRequest {}).await,
    );
    let want: BTreeSet<(String, String, String)> = (fed.orders.iter())
        .map(|o| (o.store_id.clone(), o.store_name.clone(), o.city.clone()))
        .collect();
    let got: BTreeSet<(String, String, String)> = (http.body["stores"].as_array())
        .into_iter()
        .flatten()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            (text("storeId"), text("name"), text("city"))
        })
        .collect();
    assert_eq!(got, want);

    let http = get(addr, "/v1/status").await;
    same(
        "status",
        &http,
        grpc.get_sync_status(SyncStatusRequest {}).await,
    );
    let http = get(addr, "/v1/sync/jobs?pageSize=5").await;
    let rpc = grpc.list_sync_jobs(ListSyncJobsRequest {
        page_size: 5,
        ..Default::default()
    });
    same("sync jobs", &http, rpc.await);
    let http = get(addr, "/v1/sync/qualityReport").await;
    let rpc = grpc.get_data_quality_report(GetDataQualityReportRequest { job_id: 0 });
    same("quality report", &http, rpc.await);
    // Segment flows move while the publisher catches up: compared once two
    // HTTP answers around the rpc agree.
    let flows = "/v1/segments/flows?fromDate=2020-01-01";
    for attempt in 0..50 {
        let http = get(addr, flows).await;
        let rpc = grpc
            .get_segment_flows(SegmentFlowsRequest {
                from_date: "2020-01-01".into(),
                to_date: String::new(),
            })
            .await;
        if get(addr, flows).await.body == http.body || attempt == 49 {
            same("segment flows", &http, rpc);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let http = get(addr, "/v1/segments/flows?toDate=2026-02-30").await;
    let rpc = grpc.get_segment_flows(SegmentFlowsRequest {
        from_date: String::new(),
        to_date: "2026-02-30".into(),
    });
    same("segment flows, a bad date", &http, rpc.await);
    assert_eq!(http.status, 400);
    // No sync job ran: NOT_FOUND, a 404.
    let http = get(addr, "/v1/sync/jobs/7").await;
    same(
        "sync job",
        &http,
        grpc.get_sync_job(GetSyncJobRequest { job_id: 7 }).await,
    );
    assert_eq!(http.status, 404);
    // No source configured: FAILED_PRECONDITION, a 400.
    let body = r#"{"mode": "SYNC_MODE_FULL"}"#;
    let http = request(addr, "POST", "/v1/sync:trigger", Some(body)).await;
    let rpc = grpc.trigger_sync(TriggerSyncRequest {
        mode: SyncMode::Full as i32,
    });
    same("trigger", &http, rpc.await);
    assert_eq!(
        (http.status, http.body["code"].clone()),
        (400, Value::from(9))
    );
    fed.stop().await;
}

fn violation(answer: &Answer) -> &str {
    answer.body["details"][0]["fieldViolations"][0]["field"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field_and_unknown_routes_are_404() {
    let fed = support::fed_stack(12).await;
    let addr = fed.stack.gateway_addr;
    for (method, target, body, field) in [
        (
            "GET",
            "/v1/overview?fromDate=2026-13-45",
            None,
            "filter.fromDate",
        ),
        (
            "GET",
            "/v1/overview?filter.toDate=tomorrow",
            None,
            "filter.toDate",
        ),
        ("GET", "/v1/products?limit=ten", None, "limit"),
        ("GET", "/v1/products?limit=5000", None, "limit"),
        ("GET", "/v1/rfm?pageSize=99999999999", None, "pageSize"),
        (
            "GET",
            "/v1/suggestions?minPriority=URGENT",
            None,
            "minPriority",
        ),
        ("GET", "/v1/overview?colour=red", None, "colour"),
        ("GET", "/v1/rfm?windowDays=36501", None, "rfm.windowDays"),
        ("GET", "/v1/rfm?orderBy=RFM_ORDER_PRICE", None, "orderBy"),
        ("GET", "/v1/rfm?mScores=5,6", None, "mScores[1]"),
        (
            "GET",
            "/v1/segments?fixedFrequency=3",
            None,
            "rfm.fixedFrequency",
        ),
        ("GET", "/v1/rfm?pageToken=c0001", None, "pageToken"),
        (
            "GET",
            "/v1/associations?asOfDate=2025-04-01",
            None,
            "filter.asOfDate",
        ),
        ("GET", "/v1/associations?minSupport=2", None, "minSupport"),
        (
            "GET",
            "/v1/patterns?dimension=SUMMARY_DIMENSION_CITY",
            None,
            "dimension",
        ),
        ("GET", "/v1/rfm?pageToken=a&pageToken=b", None, "pageToken"),
        (
            "GET",
            "/v1/suggestions?pageToken=not-a-token",
            None,
            "pageToken",
        ),
        ("GET", "/v1/sync/jobs/seven", None, "jobId"),
        (
            "POST",
            "/v1/sync:trigger",
            Some(r#"{"mode": "SOMETIMES"}"#),
            "mode",
        ),
        (
            "POST",
            "/v1/sync:trigger",
            Some(r#"{"colour": 1}"#),
            "colour",
        ),
        ("POST", "/v1/sync:trigger", Some("{not json"), "body"),
        (
            "POST",
            "/v1/sync:trigger",
            Some(r#"{"mode": "SYNC_MODE_IMPORT"}"#),
            "mode",
        ),
    ] {
        let answer = request(addr, method, target, body).await;
        let what = format!("{method} {target} {body:?}: {}", answer.body);
        assert_eq!(answer.status, 400, "{what}");
        assert_eq!(answer.body["code"], 3, "{what}");
        let message = answer.body["message"].as_str().unwrap_or_default();
        let named = message.starts_with(field) || message.starts_with(&snake(field));
        assert!(named, "{what}");
        if !violation(&answer).is_empty() {
            assert_eq!(violation(&answer), field, "{what}");
        }
    }
    for (method, target) in [
        ("GET", "/v1/customer/c1"),
        ("GET", "/v2/overview"),
        ("POST", "/v1/overviews"),
    ] {
        let answer = request(addr, method, target, None).await;
        assert_eq!(answer.status, 404, "{method} {target}");
        assert_eq!(answer.body["code"], 5, "{method} {target}");
        assert!(answer.body["message"].is_string());
    }
    let answer = request(addr, "DELETE", "/v1/overview", None).await;
    assert_eq!(
        (answer.status, answer.body["code"].clone()),
        (405, Value::from(12))
    );
    fed.stop().await;
}

/// `filter.fromDate` as a service names it, `filter.from_date`.
fn snake(field: &str) -> String {
    field
        .chars()
        .flat_map(|c| {
            if c.is_ascii_uppercase() {
                vec!['_', c.to_ascii_lowercase()]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Adopting over HTTP, then the effect, the adoptions and the members as gRPC
/// answers them; adopting again is a 409, bad input a 400 naming the field.
async fn effect_routes(addr: SocketAddr, grpc: &mut Grpc) {
    let id = a_suggestion_id(grpc).await;
    let id = id.as_str();
    let body = json!({"id": id, "controlPercent": 20, "windowDays": 14}).to_string();
    let adopted = request(addr, "POST", "/v1/suggestions:adopt", Some(&body)).await;
    assert_eq!(adopted.status, 200, "{}", adopted.body);
    assert_eq!(adopted.body["status"], "SUGGESTION_STATUS_ADOPTED");
    assert_eq!(adopted.body["windowDays"], 14);
    let again = request(addr, "POST", "/v1/suggestions:adopt", Some(&body)).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let bad = json!({"id": id, "controlPercent": 80}).to_string();
    let bad = request(addr, "POST", "/v1/suggestions:adopt", Some(&bad)).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        bad.body["details"][0]["fieldViolations"][0]["field"],
        "controlPercent"
    );
    let http = get(addr, &format!("/v1/adoptions/{id}/effect")).await;
    let rpc = grpc.get_suggestion_effect(GetSuggestionEffectRequest { id: id.into() });
    same("effect", &http, rpc.await);
    let http = get(addr, "/v1/adoptions").await;
    let rpc = grpc.list_adopted_suggestions(ListAdoptedSuggestionsRequest {});
    same("adoptions", &http, rpc.await);
    let http = get(
        addr,
        &format!("/v1/adoptions/{id}/members?group=EFFECT_GROUP_CONTROL&pageSize=5"),
    )
    .await;
    let rpc = grpc.list_suggestion_members(ListSuggestionMembersRequest {
        id: id.into(),
        group: EffectGroup::Control as i32,
        page_size: 5,
        page_token: String::new(),
    });
    same("control members", &http, rpc.await);
    let http = get(addr, "/v1/adoptions/churn:nobody/effect").await;
    assert_eq!(http.status, 404, "{}", http.body);
}

/// The id of a suggestion the chain has now (not a recommendation, whose
/// rules come from the profiler), as `ListSuggestions` names it.
async fn a_suggestion_id(grpc: &mut PortraitServiceClient<Channel>) -> String {
    let listed = grpc
        .list_suggestions(ListSuggestionsRequest::default())
        .await
        .expect("suggestions")
        .into_inner();
    (listed.suggestions.into_iter())
        .find(|s| s.r#type != SuggestionType::Recommendation as i32)
        .expect("a suggestion to adopt")
        .id
}
