//! The 客群画像 page at `/` in Debian's chromium (Python playwright), on the
//! in-process stack fed a small synthetic chain. The page is toured through
//! its filters; in every state each KPI, the previous period's KPI and every
//! chart's data (read from ECharts' getOption()) must equal the gRPC answer
//! for the filter the page says it used, and that filter must be the one the
//! clicks asked for. No console errors; screenshots in target/page-screenshots.

mod support;

#[path = "page/models.rs"]
mod models;

use chrono::NaiveDate;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::*;
use portrait_testkit::browser;
use serde_json::{Value, json};
use tonic::transport::Channel;

type Grpc = PortraitServiceClient<Channel>;

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn filter_of(v: &Value) -> Filter {
    let list = |k: &str| (v[k].as_array().into_iter().flatten()).map(text).collect();
    Filter {
        store_ids: list("storeIds"),
        cities: list("cities"),
        from_date: text(&v["fromDate"]),
        to_date: text(&v["toDate"]),
        as_of_date: text(&v["asOfDate"]),
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

fn shift(s: &str, days: i64) -> String {
    (day(s) + chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// The period of the same length just before `f`, as of its last day.
fn previous(f: &Filter) -> Option<Filter> {
    if f.from_date.is_empty() {
        return None;
    }
    let cap = shift(&f.as_of_date, 1);
    let end = if f.to_date.is_empty() || f.to_date > cap {
        cap
    } else {
        f.to_date.clone()
    };
    let days = (day(&end) - day(&f.from_date)).num_days();
    Some(Filter {
        from_date: shift(&f.from_date, -days),
        to_date: f.from_date.clone(),
        as_of_date: shift(&f.from_date, -1),
        ..f.clone()
    })
}

fn kpis(o: &Overview) -> [String; 4] {
    [
        o.total_customers.to_string(),
        o.active_customers.to_string(),
        o.average_order_value_fen.to_string(),
        o.lifetime_value_fen.to_string(),
    ]
}

/// The KPIs as the page holds them, as numbers printed the Rust way.
fn shown_kpis(state: &Value, key: &str) -> [String; 4] {
    ["total", "active", "aov", "ltv"].map(|k| {
        let raw = text(&state["kpis"][k][key]);
        match raw.parse::<f64>() {
            Ok(n) if k == "aov" || k == "ltv" => n.to_string(),
            _ => raw,
        }
    })
}

/// Every figure of one state equals gRPC's answer for the page's filter.
async fn check(grpc: &mut Grpc, name: &str, state: &Value) -> Overview {
    let f = filter_of(&state["filter"]);
    let req = || Some(f.clone());
    let overview = grpc.get_overview(OverviewRequest { filter: req() }).await;
    let overview = overview.expect("overview").into_inner();
    assert_eq!(shown_kpis(state, "value"), kpis(&overview), "{name}: KPIs");
    let want_previous = previous(&f);
    assert_eq!(
        want_previous,
        (!state["previous"].is_null()).then(|| filter_of(&state["previous"])),
        "{name}: the previous period"
    );
    match want_previous {
        Some(p) => {
            let before = grpc.get_overview(OverviewRequest { filter: Some(p) }).await;
            let before = before.expect("overview").into_inner();
            assert_eq!(shown_kpis(state, "previous"), kpis(&before), "{name}");
        }
        None => assert_eq!(shown_kpis(state, "previous"), [""; 4].map(String::from)),
    }

    let segments = grpc
        .get_segment_distribution(SegmentDistributionRequest {
            filter: req(),
            ..Default::default()
        })
        .await
        .expect("segments")
        .into_inner();
    let want: Vec<Value> = (segments.segments.iter())
        .map(|s| {
            let name = Segment::try_from(s.segment)
                .expect("a segment")
                .as_str_name();
            json!({"segment": name, "value": s.customers})
        })
        .collect();
    assert_eq!(state["segments"], Value::from(want), "{name}: donut");
    let slices: i64 = (state["segments"].as_array().into_iter().flatten())
        .map(|s| s["value"].as_i64().unwrap_or_default())
        .sum();
    assert_eq!(slices, overview.active_customers, "{name}: slices sum");

    let hours = grpc
        .get_hour_distribution(HourDistributionRequest { filter: req() })
        .await
        .expect("hours")
        .into_inner();
    let want: Vec<i64> = hours.hours.iter().map(|h| h.orders).collect();
    assert_eq!(state["hours"], json!(want), "{name}: hours");
    assert_eq!(want.iter().sum::<i64>(), overview.orders, "{name}");

    let by_revenue = text(&state["search"]).contains("top=revenue");
    let order_by = if by_revenue {
        ProductOrder::Revenue
    } else {
        ProductOrder::Quantity
    };
    let products = grpc
        .get_top_products(TopProductsRequest {
            filter: req(),
            limit: 10,
            order_by: order_by as i32,
        })
        .await
        .expect("products")
        .into_inner()
        .products;
    let names: Vec<&str> = products
        .iter()
        .rev()
        .map(|p| p.product_name.as_str())
        .collect();
    let values: Vec<i64> = (products.iter().rev())
        .map(|p| {
            if by_revenue {
                p.revenue_fen
            } else {
                p.quantity
            }
        })
        .collect();
    assert_eq!(state["products"]["names"], json!(names), "{name}: products");
    assert_eq!(state["products"]["values"], json!(values), "{name}");

    let channels = grpc
        .get_channel_distribution(ChannelDistributionRequest { filter: req() })
        .await
        .expect("channels")
        .into_inner();
    let want: Vec<Value> = (channels.channels.iter())
        .map(|c| {
            let name = portrait_proto::v1::Channel::try_from(c.channel).expect("a channel");
            json!({"channel": name.as_str_name(), "value": c.orders})
        })
        .collect();
    assert_eq!(state["channels"], Value::from(want), "{name}: channels");

    let suggestions = grpc
        .list_suggestions(ListSuggestionsRequest {
            filter: req(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("suggestions")
        .into_inner();
    let want: Vec<[String; 5]> = (suggestions.suggestions.iter())
        .map(|s| {
            let revenue = s.expected_effect.as_ref().expect("effect");
            [
                s.id.clone(),
                s.r#type().as_str_name().to_owned(),
                s.priority().as_str_name().to_owned(),
                s.audience_size.to_string(),
                revenue.extra_revenue_fen.to_string(),
            ]
        })
        .collect();
    if text(&state["summary"]["level"]) == "city" {
        let (rows, total) = summary_rows(grpc, &f, SummaryDimension::City, None).await;
        assert_eq!(state["summary"]["rows"], json!(rows), "{name}: summary");
        assert_eq!(
            state["summary"]["total"],
            json!([total]),
            "{name}: summary total"
        );
    }

    let shown: Vec<[String; 5]> = (state["suggestions"].as_array().into_iter().flatten())
        .map(|r| ["id", "type", "priority", "audience", "revenue"].map(|k| text(&r[k])))
        .collect();
    assert_eq!(shown, want, "{name}: suggestions");
    overview
}

/// The customer drawer shows GetCustomer, GetCustomerPreferences and
/// ListCustomerDays of its customer for the page's filter.
async fn check_drawer(grpc: &mut Grpc, name: &str, state: &Value, customer: &str) {
    let d = &state["drawer"];
    assert_eq!(text(&d["customer"]), customer, "{name}");
    assert!(
        !d["hidden"].as_bool().unwrap_or(true),
        "{name}: drawer shown"
    );
    let f = filter_of(&state["filter"]);
    let id = || customer.to_owned();
    let profile = grpc
        .get_customer(GetCustomerRequest {
            customer_id: id(),
            filter: Some(f.clone()),
        })
        .await
        .expect("customer")
        .into_inner();
    let b = profile.behaviour.expect("behaviour");
    assert!(
        b.orders > 0,
        "{name}: pick a customer with orders in the filter"
    );
    assert_eq!(text(&d["state"]), "ready", "{name}");
    assert!(
        text(&d["title"]).contains(&profile.masked_customer_id),
        "{name}"
    );
    let facts = &d["facts"];
    let fact = |k: &str| text(&facts[k]);
    assert_eq!(
        [
            fact("orders"),
            fact("spendFen"),
            fact("firstOrderDate"),
            fact("lastOrderDate"),
            fact("daysSinceLastOrder"),
            fact("tenureDays"),
            fact("lastGapDays"),
            fact("favouriteStoreId"),
            fact("favouriteChannel"),
            fact("favouriteHourBand"),
            fact("favouriteCategoryId"),
        ],
        [
            b.orders.to_string(),
            b.spend_fen.to_string(),
            b.first_order_date.clone(),
            b.last_order_date.clone(),
            b.days_since_last_order.to_string(),
            b.tenure_days.to_string(),
            b.last_gap_days.to_string(),
            b.favourite_store_id.clone(),
            b.favourite_channel().as_str_name().to_owned(),
            b.favourite_hour_band().as_str_name().to_owned(),
            b.favourite_category_id.clone(),
        ],
        "{name}: facts"
    );
    for (k, want) in [
        ("averageOrderValueFen", b.average_order_value_fen),
        ("ordersPer30Days", b.orders_per_30_days),
        ("meanGapDays", b.mean_gap_days),
    ] {
        assert_eq!(fact(k).parse::<f64>().ok(), Some(want), "{name}: {k}");
    }
    let segment = (profile.rfm.as_ref())
        .and_then(|r| Segment::try_from(r.segment).ok())
        .map_or("", |s| s.as_str_name());
    assert_eq!(fact("segment"), segment, "{name}: segment");
    match profile.model.filter(|m| m.fitted) {
        Some(m) => {
            assert_eq!(fact("alive").parse::<f64>().ok(), Some(m.alive_probability));
            assert_eq!(
                fact("predictedClv").parse::<f64>().ok(),
                Some(m.predicted_clv_fen)
            );
        }
        None => assert_eq!(fact("alive"), "", "{name}: no fit, no figure"),
    }
    let hours: Vec<i64> = b.hours.iter().map(|h| h.orders).collect();
    assert_eq!(d["hours"], json!(hours), "{name}: hours");
    let channels: Vec<Value> = (b.channels.iter())
        .map(|c| json!({"channel": c.channel().as_str_name(), "value": c.orders}))
        .collect();
    assert_eq!(d["channels"], json!(channels), "{name}: channels");
    let week: Vec<Value> = (b.weekday_hours.iter())
        .map(|w| json!([w.hour, w.weekday - 1, w.orders]))
        .collect();
    assert_eq!(d["week"], json!(week), "{name}: weekday x hour");
    let prefs = grpc
        .get_customer_preferences(CustomerPreferencesRequest {
            customer_id: id(),
            filter: Some(f.clone()),
            limit: 10,
        })
        .await
        .expect("preferences")
        .into_inner();
    let ids =
        |items: &[ItemPreference]| -> Vec<String> { items.iter().map(|i| i.id.clone()).collect() };
    assert_eq!(
        d["products"],
        json!(ids(&prefs.products)),
        "{name}: products"
    );
    assert_eq!(d["categories"], json!(ids(&prefs.categories)), "{name}");
    let days = grpc
        .list_customer_days(ListCustomerDaysRequest {
            customer_id: id(),
            filter: Some(f),
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("days")
        .into_inner();
    let dates: Vec<&str> = days.days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(d["days"], json!(dates), "{name}: days");
}

/// The summary's rows as the page keeps them ({key, customers}), and the
/// total's customers; by store, only those of `city`.
async fn summary_rows(
    grpc: &mut Grpc,
    f: &Filter,
    dimension: SummaryDimension,
    city: Option<&str>,
) -> (Vec<Value>, String) {
    let answer = grpc
        .get_portrait_summary(PortraitSummaryRequest {
            filter: Some(f.clone()),
            dimension: dimension as i32,
        })
        .await
        .expect("summary")
        .into_inner();
    let rows = (answer.groups.iter())
        .filter(|g| city.is_none_or(|c| g.city == c))
        .map(|g| json!({"key": g.key, "customers": g.customers.to_string()}))
        .collect();
    let total = answer.total.map(|t| t.customers).unwrap_or_default();
    (rows, total.to_string())
}

/// The figures the brief asks for, printed (never asserted): first paint,
/// the page complete, and every refresh with each panel's time.
fn print_timings(report: &Value) {
    let t = &report["timings"];
    let ms = |v: &Value| v.as_f64().unwrap_or(-1.0);
    let first = &t["firstLoad"];
    let loaded = &first["refreshes"][0];
    println!(
        "page timings: first-contentful-paint {:.0} ms, DOMContentLoaded {:.0} ms, every panel filled {:.0} ms after navigation",
        ms(&first["paint"]["first-contentful-paint"]),
        ms(&first["domContentLoaded"]),
        ms(&loaded["at"]),
    );
    println!(
        "page timings: reload (with the segment list) {:.0} ms",
        ms(&t["reloadMs"])
    );
    let refreshes = (t["tour"]["refreshes"].as_array().into_iter().flatten())
        .chain(t["last"]["refreshes"].as_array().into_iter().flatten());
    let mut slowest: f64 = 0.0;
    for r in refreshes {
        println!(
            "page timings: refresh ({}) {:.0} ms, panels {}",
            text(&r["reason"]),
            ms(&r["totalMs"]),
            r["panels"]
        );
        if text(&r["reason"]) == "filter" {
            slowest = slowest.max(ms(&r["totalMs"]));
        }
    }
    println!("page timings: slowest refresh after a filter change {slowest:.0} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_apis_figures_for_every_filter() {
    let Some(python) = browser::python() else {
        return;
    };
    let fed = support::fed_stack(21).await;
    let addr = fed.stack.gateway_addr;
    let mut grpc = PortraitServiceClient::new(support::channel(addr).await);
    let stores = grpc.list_stores(ListStoresRequest {}).await;
    let stores = stores.expect("stores").into_inner().stores;
    let store = stores.get(1).expect("a second store").clone();
    let city = stores[0].city.clone();
    let searched = (fed.orders.iter())
        .find(|o| o.store_id == store.store_id && !o.customer_id.is_empty())
        .map(|o| o.customer_id.clone())
        .expect("a customer of the store");
    let spec = json!({
        "customerId": searched,
        "mode": "tour",
        "url": format!("http://{addr}"),
        "asOf": fed.as_of,
        "city": city,
        "storeId": store.store_id,
        "storeSearch": store.name,
        "screenshots": browser::screenshots(env!("CARGO_TARGET_TMPDIR"), "tour"),
    })
    .to_string();
    let report = tokio::task::spawn_blocking(move || browser::drive(&python, &spec))
        .await
        .expect("the browser ran");
    let report: Value = serde_json::from_str(&report).expect("a JSON report");
    print_timings(&report);
    let s = &report["states"];

    let initial = &s["initial"]["filter"];
    assert_eq!(text(&initial["fromDate"]), shift(&fed.as_of, -29));
    assert_eq!(text(&initial["toDate"]), shift(&fed.as_of, 1));
    assert_eq!(text(&initial["asOfDate"]), fed.as_of);
    let mut totals = Vec::new();
    for name in [
        "initial", "all", "city", "store", "revenue", "reloaded", "empty",
    ] {
        totals.push(check(&mut grpc, name, &s[name]).await.active_customers);
    }
    // Each filter asked for is the filter used, and it changed the figures.
    assert_eq!(filter_of(&s["all"]["filter"]).from_date, "");
    assert!(text(&s["all"]["kpis"]["total"]["change"]).contains("无上期"));
    assert_eq!(
        filter_of(&s["city"]["filter"]).cities,
        std::slice::from_ref(&city)
    );
    let by_store = filter_of(&s["store"]["filter"]);
    assert_eq!(
        (by_store.store_ids, by_store.cities.len()),
        (vec![store.store_id], 0)
    );
    assert!(
        totals[0] != totals[1] && totals[1] != totals[2] && totals[2] != totals[3],
        "{totals:?}"
    );
    assert!(text(&s["revenue"]["search"]).contains("top=revenue"));
    assert_eq!(
        s["reloaded"]["filter"], s["revenue"]["filter"],
        "a reload keeps the view"
    );

    check_audience(&mut grpc, s).await;
    check_effect(&mut grpc, &s["adopted"]).await;

    // The city's row drilled into its stores.
    let drilled = &s["drilled"];
    assert_eq!(text(&drilled["summary"]["level"]), "store");
    assert!(text(&drilled["search"]).contains("drill="));
    let f = filter_of(&drilled["filter"]);
    let (rows, _) = summary_rows(&mut grpc, &f, SummaryDimension::Store, Some(&city)).await;
    assert!(!rows.is_empty(), "the city has stores");
    assert_eq!(drilled["summary"]["rows"], json!(rows), "the city's stores");

    // By segment (the summary's segment groups) and by hour band (the
    // orders' bands, a customer in each they ordered in).
    for (name, dimension) in [
        ("by-segment", SummaryDimension::Segment),
        ("by-hour-band", SummaryDimension::HourBand),
    ] {
        let state = &s[name];
        let f = filter_of(&state["filter"]);
        let (rows, total) = summary_rows(&mut grpc, &f, dimension, None).await;
        assert!(!rows.is_empty(), "{name}");
        assert_eq!(state["summary"]["rows"], json!(rows), "{name}");
        assert_eq!(state["summary"]["total"], json!([total]), "{name} total");
    }

    // The clicked slice lists its customers, as ListRfm of that segment does.
    let segment = text(&s["segment"]["clicked"]);
    assert!(text(&s["segment"]["search"]).contains(&format!("segment={segment}")));
    let listed = grpc
        .list_rfm(ListRfmRequest {
            filter: Some(filter_of(&s["segment"]["filter"])),
            page_size: 20,
            segment: Segment::from_str_name(&segment).expect("a segment") as i32,
            ..Default::default()
        })
        .await
        .expect("rfm")
        .into_inner();
    let want: Vec<String> = listed
        .customers
        .iter()
        .map(|c| c.customer_id.clone())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(s["segment"]["customers"], json!(want));
    assert_eq!(s["reloaded"]["customers"], json!(want));

    // The first listed customer's drawer, one found by search, an unknown id.
    check_drawer(&mut grpc, "customer", &s["customer"], &want[0]).await;
    assert!(text(&s["customer"]["search"]).contains("customer="));
    check_drawer(&mut grpc, "searched", &s["searched"], &searched).await;
    let missing = &s["missing"]["drawer"];
    assert_eq!(text(&missing["state"]), "failed");
    assert!(
        text(&missing["message"]).contains("未找到匹配的客户"),
        "{missing}"
    );
    assert!(
        s["reloaded"]["drawer"]["hidden"].as_bool().unwrap_or(false),
        "closed"
    );

    // A range with no orders: every panel says so, nothing fails.
    let empty = &s["empty"];
    assert_eq!(text(&empty["filter"]["fromDate"]), "2001-01-01");
    assert_eq!(text(&empty["filter"]["toDate"]), "2001-02-01");
    for panel in [
        "panel-segments",
        "panel-hours",
        "panel-products",
        "panel-channels",
        "panel-suggestions",
        "panel-summary",
    ] {
        assert_eq!(text(&empty["panels"][panel]), "empty", "{panel}");
    }
    // The customer list: ListCustomers' first page for the page's filter,
    // by spend, by predicted CLV, at risk only; a row opens its drawer.
    for (name, order, at_risk) in [
        ("list", CustomerOrder::Spend, false),
        ("list-clv", CustomerOrder::PredictedClv, false),
        ("list-risk", CustomerOrder::PredictedClv, true),
    ] {
        let state = &s[name];
        let page = grpc
            .list_customers(ListCustomersRequest {
                filter: Some(filter_of(&state["filter"])),
                order_by: order as i32,
                at_risk,
                page_size: 20,
                ..Default::default()
            })
            .await
            .expect("customers")
            .into_inner();
        let ids: Vec<&str> = page
            .customers
            .iter()
            .map(|c| c.customer_id.as_str())
            .collect();
        assert!(!ids.is_empty(), "{name}: customers listed");
        assert_eq!(state["list"]["rows"], json!(ids), "{name}");
        assert_eq!(
            text(&state["list"]["total"]),
            page.total.to_string(),
            "{name}"
        );
    }
    models::check_model_panel(&mut grpc, &s["list"]).await;
    models::check_flows_panel(&mut grpc, &s["list"]).await;
    assert!(
        !s["list"]["flows"].as_array().is_none_or(Vec::is_empty),
        "the fed chain moved customers between segments"
    );
    let first = text(&s["list-risk"]["list"]["rows"][0]);
    check_drawer(&mut grpc, "list-customer", &s["list-customer"], &first).await;

    // The insight panels: the top rules over customers at the page's stores,
    // and the clusters the button computed, as the rpcs answer.
    let insights = &s["insights"];
    assert!(text(&insights["search"]).contains("basis=customer"));
    let f = filter_of(&insights["filter"]);
    let rules = grpc
        .get_associations(AssociationsRequest {
            filter: Some(Filter {
                store_ids: f.store_ids.clone(),
                cities: f.cities.clone(),
                ..Default::default()
            }),
            basis: AssociationBasis::Customer as i32,
            limit: 10,
            min_count: 2,
            ..Default::default()
        })
        .await
        .expect("associations")
        .into_inner();
    let pairs: Vec<String> = (rules.associations.iter())
        .map(|a| format!("{}>{}", a.antecedent_id, a.consequent_id))
        .collect();
    assert!(!pairs.is_empty(), "rules to show");
    assert_eq!(insights["associations"], json!(pairs), "associations");
    let clusters = grpc
        .get_clusters(GetClustersRequest {})
        .await
        .expect("clusters")
        .into_inner();
    let shown: Vec<Value> = (clusters.clusters.iter())
        .map(|c| json!({"cluster": c.cluster.to_string(), "customers": c.customers.to_string()}))
        .collect();
    assert!(!shown.is_empty(), "clusters computed");
    assert_eq!(insights["clusters"], json!(shown), "clusters");
    check_cluster_lists(&mut grpc, s, &clusters).await;

    // No sync source here: the button says why, in words.
    let message = text(&s["sync-error"]["message"]);
    assert!(
        message.contains("无法同步") && message.contains("sync.source"),
        "{message}"
    );
    for (name, state) in s.as_object().expect("states") {
        assert_eq!(text(&state["banner"]), "", "{name}");
        let failed = (state["panels"].as_object().into_iter().flatten())
            .filter(|(_, v)| text(v).contains("failed"));
        assert_eq!(failed.count(), 0, "{name}: {}", state["panels"]);
    }
    // No console errors, but for the refused trigger's 400 the browser logs.
    let errors: Vec<&str> = (report["errors"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    // Nor for the unknown customer's 404.
    let unexpected = errors
        .iter()
        .filter(|e| !e.contains("status of 400") && !e.contains("status of 404"))
        .count();
    assert_eq!(unexpected, 0, "console errors: {errors:?}");
    assert!(errors.len() <= 2, "{errors:?}");
    fed.stop().await;
}

/// A suggestion's audience as the page opened it (a page of 20, then two):
/// ListSuggestionAudience's pages for that suggestion and the page's filter.
async fn check_audience(grpc: &mut Grpc, s: &Value) {
    let opened = &s["audience"]["audience"];
    assert_eq!(opened["open"], json!(true), "the audience opened");
    let id = text(&opened["suggestion"]);
    let first = &s["audience"]["suggestions"][0];
    assert_eq!(text(&first["id"]), id, "the first suggestion's audience");
    let mut want: Vec<String> = Vec::new();
    let mut token = String::new();
    let mut total = 0;
    for _ in 0..2 {
        let page = grpc
            .list_suggestion_audience(ListSuggestionAudienceRequest {
                suggestion_id: id.clone(),
                filter: Some(filter_of(&s["audience"]["filter"])),
                page_size: 20,
                page_token: token,
            })
            .await
            .expect("audience")
            .into_inner();
        want.extend(page.customers.into_iter().map(|c| c.customer_id));
        total = page.total;
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(text(&opened["total"]), total.to_string(), "audience total");
    let rows =
        |v: &Value| -> Vec<String> { (v.as_array().into_iter().flatten()).map(text).collect() };
    assert_eq!(
        rows(&opened["rows"]),
        want[..want.len().min(20)],
        "audience page"
    );
    if let Some(more) = s.get("audience-more") {
        assert_eq!(rows(&more["audience"]["rows"]), want, "audience pages");
    }
}

/// The list of the first cluster's customers, then of those whose main channel
/// is the mini-program: what ListCustomers answers for the same request, on
/// the clusters the button computed.
async fn check_cluster_lists(grpc: &mut Grpc, s: &Value, clusters: &Clusters) {
    for name in ["list-cluster", "list-cluster-channel"] {
        let state = &s[name];
        let list = &state["list"];
        assert_eq!(
            text(&list["labels"]),
            clusters.generation,
            "{name}: fresh labels"
        );
        assert_eq!(
            text(&state["clustersGeneration"]),
            clusters.generation,
            "{name}"
        );
        let asked = &list["request"];
        let first = clusters.clusters.first().map(|c| c.cluster.to_string());
        assert_eq!(
            Some(text(&asked["cluster"])),
            first,
            "{name}: the first row's cluster"
        );
        let request = ListCustomersRequest {
            filter: Some(filter_of(&state["filter"])),
            order_by: CustomerOrder::from_str_name(&text(&asked["orderBy"])).expect("an order")
                as i32,
            at_risk: text(&asked["atRisk"]) == "true",
            cluster: text(&asked["cluster"]).parse().expect("a cluster"),
            main_channel: portrait_proto::v1::Channel::from_str_name(&text(&asked["mainChannel"]))
                .map_or(0, |c| c as i32),
            page_size: 20,
            ..Default::default()
        };
        let page = grpc
            .list_customers(request)
            .await
            .expect("customers")
            .into_inner();
        let ids: Vec<&str> = page
            .customers
            .iter()
            .map(|c| c.customer_id.as_str())
            .collect();
        if name == "list-cluster" {
            assert!(!ids.is_empty(), "{name}: the cluster has customers");
        } else {
            assert_eq!(text(&asked["mainChannel"]), "CHANNEL_WECHAT_MINI");
        }
        assert_eq!(list["rows"], json!(ids), "{name}");
        assert_eq!(text(&list["total"]), page.total.to_string(), "{name}");
    }
}

/// The adopt button adopted the first suggestion row's id, and the effect
/// view shows GetSuggestionEffect's groups for it.
async fn check_effect(grpc: &mut Grpc, state: &Value) {
    let effects = &state["effects"];
    let id = text(&effects["picked"]);
    assert_eq!(text(&effects["adoptButtons"][0]), id, "{effects}");
    assert_eq!(effects["adoptions"], json!([id]), "{effects}");
    let e = grpc
        .get_suggestion_effect(GetSuggestionEffectRequest { id: id.clone() })
        .await
        .expect("the adopted suggestion's effect")
        .into_inner();
    let group = |name: &str, g: Option<GroupOutcome>| {
        let g = g.unwrap_or_default();
        json!({
            "group": name,
            "customers": g.customers.to_string(),
            "responders": g.responders.to_string(),
            "responseRate": g.response_rate.to_string(),
            "orders": g.orders.to_string(),
            "revenueFen": g.revenue_fen.to_string(),
            "revenuePerCustomerFen": g.revenue_per_customer_fen.to_string(),
        })
    };
    let shown: Vec<Value> = (effects["groups"].as_array().into_iter().flatten())
        .map(|g| {
            let mut g = g.clone();
            // Doubles as the page got them, printed the Rust way.
            for key in ["responseRate", "revenuePerCustomerFen"] {
                let v: f64 = text(&g[key]).parse().expect("a number");
                g[key] = json!(v.to_string());
            }
            g
        })
        .collect();
    assert_eq!(
        shown,
        vec![group("treated", e.treated), group("control", e.control)],
        "the effect view"
    );
    assert!(e.treated.is_some_and(|g| g.customers > 0), "an audience");
}
