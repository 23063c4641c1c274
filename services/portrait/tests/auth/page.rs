//! The page behind the login, in Debian's chromium: the login comes up, a
//! wrong token brings it back, the right one shows figures that equal the
//! gRPC answer for the filter the page says it used.

use portrait_auth::JwtSettings;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Filter, OverviewRequest};
use portrait_testkit::browser;
use serde_json::{Value, json};

use super::{settings, support};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_asks_for_a_token_and_then_shows_the_figures() {
    let Some(python) = browser::python() else {
        return;
    };
    let (auth, keys) = settings("上海", JwtSettings::default());
    let viewer = keys.tokens[0].clone();
    let fed = support::fed_stack_with_auth(47, auth, &keys.tokens[2]).await;
    let gw = fed.stack.gateway_addr;
    let spec = json!({
        "mode": "login",
        "url": format!("http://{gw}"),
        "query": format!("?range=all&asOf={}", fed.as_of),
        "token": viewer,
        "screenshots": browser::screenshots(env!("CARGO_TARGET_TMPDIR"), "login"),
    })
    .to_string();
    let report = tokio::task::spawn_blocking(move || browser::drive(&python, &spec))
        .await
        .expect("the browser ran");
    let report: Value = serde_json::from_str(&report).expect("a JSON report");
    let t = &report["timings"];
    assert!(text(&t["asked"]).contains("请输入访问令牌"), "{t}");
    assert!(text(&t["refused"]).contains("令牌无效"), "{t}");
    assert_eq!(t["dialogs"], 0, "logged in, the login is gone");

    let state = &report["states"]["loggedIn"];
    let f = &state["filter"];
    let list =
        |k: &str| -> Vec<String> { f[k].as_array().into_iter().flatten().map(text).collect() };
    let filter = Filter {
        store_ids: list("storeIds"),
        cities: list("cities"),
        from_date: text(&f["fromDate"]),
        to_date: text(&f["toDate"]),
        as_of_date: text(&f["asOfDate"]),
    };
    assert_eq!(
        filter.as_of_date, fed.as_of,
        "the page's view is the one asked for"
    );
    let mut grpc = PortraitServiceClient::new(support::authed(gw, &keys.tokens[2]).await);
    let o = grpc
        .get_overview(OverviewRequest {
            filter: Some(filter),
        })
        .await
        .expect("overview")
        .into_inner();
    assert!(o.total_customers > 0);
    assert_eq!(
        text(&state["kpis"]["total"]["value"]),
        o.total_customers.to_string()
    );
    assert_eq!(text(&state["banner"]), "", "no panel failed");
    fed.stop().await;
}
