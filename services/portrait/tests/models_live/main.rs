//! The customer models fitted by the live suggest service equal what `portrait models btyd`
//! gives on a CSV of the same accepted orders (the test's own copy, not Portrait's), to 1e-9
//! relative, and what Python's `lifetimes` gives on that CSV, to btyd_reference.rs's
//! tolerances. Also: "not enough data" is an answer, a starved refit keeps the fit in service,
//! and the JSON routes answer as the rpcs.
//!
//! The synthetic chain's customers all start on its first day and few stop, which leaves
//! BG/NBD's drop-out unidentified (lifetimes then fails); so each customer here is first seen
//! on a day of their own and drops out after each purchase day with a chance of their own, as
//! the model assumes: their orders outside that life are not submitted.

#[path = "../support/mod.rs"]
mod support;

mod lives;

#[path = "../page/models.rs"]
mod page_models;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::DateTime;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    Filter, GetCustomerModelRequest, GetModelFitRequest, ModelFit, ModelFitStatus, ModelPeriod,
    PortraitSummaryRequest, RefitModelsRequest, SummaryDimension, TransactionModel,
};
use portrait_synth::ChainSpec;
use serde_json::Value;
use support::cli::{output, table};
use support::http::{get, request};
use tonic::transport::Channel;

type Grpc = PortraitServiceClient<Channel>;

fn local_day(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .expect("valid instant")
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// |a − b| within `rel` of the larger, or tiny.
fn close(what: &str, got: f64, want: f64, rel: f64) {
    let tolerance = rel * got.abs().max(want.abs()) + 1e-12;
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: service {got}, reference {want}"
    );
}

async fn refit(grpc: &mut Grpc, day: &str) -> ModelFit {
    grpc.refit_models(RefitModelsRequest {
        as_of_date: day.to_owned(),
    })
    .await
    .expect("refit")
    .into_inner()
}

/// The profiler's summary by city, once it has pulled this fit's scores: each
/// group's mean predicted CLV is the mean of the command's CLV over the
/// group's customers (all of them are scored: the fit is as of the last day).
async fn summary_means_the_scores(
    grpc: &mut Grpc,
    fit: &ModelFit,
    orders: &[portrait_proto::v1::Order],
    rows: &BTreeMap<String, std::collections::HashMap<String, f64>>,
) {
    let request = PortraitSummaryRequest {
        filter: Some(Filter {
            as_of_date: fit.as_of_date.clone(),
            ..Filter::default()
        }),
        dimension: SummaryDimension::City as i32,
    };
    let start = std::time::Instant::now();
    let summary = loop {
        let s = (grpc.get_portrait_summary(request.clone()).await)
            .expect("summary")
            .into_inner();
        if s.scores_generation == fit.generation {
            break s;
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "the scores never reached the profiler"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let mut cities: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for o in orders.iter().filter(|o| !o.customer_id.is_empty()) {
        cities.entry(&o.city).or_default().insert(&o.customer_id);
        cities.entry("").or_default().insert(&o.customer_id);
    }
    let total = summary.total.iter().map(|t| ("", t));
    let groups = summary.groups.iter().map(|g| (g.key.as_str(), g));
    for (city, got) in total.chain(groups) {
        let ids = &cities[city];
        let mean = ids.iter().map(|c| rows[*c]["clv"]).sum::<f64>() / ids.len() as f64;
        assert_eq!(got.scored_customers, ids.len() as i64, "{city:?}");
        close(
            &format!("mean CLV of {city:?}"),
            got.mean_predicted_clv_fen,
            mean,
            1e-6,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_models_equal_the_command_and_lifetimes_on_the_same_orders() {
    let spec = ChainSpec {
        customers: 800,
        days: 200,
        ..ChainSpec::small(21)
    };
    let fed = lives::fed(&spec).await;
    let addr = fed.stack.gateway_addr;
    let mut grpc = PortraitServiceClient::new(support::channel(addr).await);
    let as_of = fed.as_of.clone();

    // Before the first order nobody bought twice: an answer, not an error, and no fit.
    let early = refit(&mut grpc, "2025-02-01").await;
    assert_eq!(early.status(), ModelFitStatus::NotEnoughData, "{early:?}");
    assert!(
        early.reason.contains("models.min_customers"),
        "{}",
        early.reason
    );

    let fit = refit(&mut grpc, &as_of).await;
    assert_eq!(fit.status(), ModelFitStatus::Fitted, "{fit:?}");
    assert_eq!(
        (fit.model(), fit.period(), fit.as_of_date.as_str()),
        (TransactionModel::BgNbd, ModelPeriod::Week, as_of.as_str())
    );
    assert_eq!((fit.horizon_periods, fit.clv_months), (52.0, 12));
    eprintln!(
        "fit of {} customers took {} ms",
        fit.customers, fit.fit_millis
    );

    // The test's own copy of the accepted orders, as the command and lifetimes read them.
    let dir = tempfile::tempdir().expect("dir");
    let tx = dir.path().join("orders.csv");
    let mut csv = String::from("customer_id,date,amount\n");
    let mut spend: BTreeMap<&str, i64> = BTreeMap::new();
    for o in fed.orders.iter().filter(|o| !o.customer_id.is_empty()) {
        let day = local_day(o.placed_at_ms);
        assert!(day <= as_of, "as_of is the last order's day");
        csv.push_str(&format!("{},{day},{}\n", o.customer_id, o.net_amount_fen));
        *spend.entry(&o.customer_id).or_default() += o.net_amount_fen;
    }
    std::fs::write(&tx, csv).expect("write csv");
    let per_customer = dir.path().join("command.csv");
    let command: Value = serde_json::from_str(&output(
        Command::new(env!("CARGO_BIN_EXE_portrait"))
            .args(["models", "btyd", "--period", "week", "--calibration-end"])
            .arg(&as_of)
            .arg("--transactions")
            .arg(&tx)
            .arg("--per-customer")
            .arg(&per_customer),
    ))
    .expect("the command's json");

    let p = fit.parameters.expect("parameters");
    let ours = [
        ("bgnbd", "r", p.r),
        ("bgnbd", "alpha", p.alpha),
        ("bgnbd", "a", p.a),
        ("bgnbd", "b", p.b),
        ("bgnbd", "log_likelihood", fit.log_likelihood),
        ("gamma_gamma", "p", p.p),
        ("gamma_gamma", "q", p.q),
        ("gamma_gamma", "v", p.v),
        ("gamma_gamma", "log_likelihood", fit.spend_log_likelihood),
    ];
    for (model, name, got) in ours {
        let want = command[model][name].as_f64().expect("a parameter");
        close(&format!("{model}.{name}"), got, want, 1e-9);
    }
    assert_eq!(command["customers"], fit.customers);
    assert_eq!(command["gamma_gamma"]["customers"], fit.spend_customers);

    let rows = table(&per_customer);
    assert_eq!(rows.len(), spend.len());
    let mut answers = BTreeMap::new();
    for (id, want) in &rows {
        let got = grpc
            .get_customer_model(GetCustomerModelRequest {
                customer_id: id.clone(),
            })
            .await
            .expect("a known customer")
            .into_inner();
        assert!(got.fitted, "{id}");
        for (column, value) in [
            ("frequency", got.frequency as f64),
            ("recency", got.recency),
            ("T", got.age),
            ("monetary_value", got.monetary_fen),
            ("p_alive", got.alive_probability),
            ("expected_purchases", got.expected_purchases),
            ("expected_spend", got.expected_average_spend_fen),
            ("clv", got.predicted_clv_fen),
        ] {
            close(&format!("{id} {column}"), value, want[column], 1e-9);
        }
        assert_eq!(got.historical_clv_fen, spend[id.as_str()], "{id}");
        answers.insert(id.clone(), got);
    }

    // A customer never seen is NOT_FOUND naming customer_id; an empty id is invalid.
    let missing = grpc
        .get_customer_model(GetCustomerModelRequest {
            customer_id: "no-such-customer".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert!(missing.message().contains("customer_id"), "{missing:?}");
    let empty = grpc
        .get_customer_model(GetCustomerModelRequest::default())
        .await
        .expect_err("empty");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);

    // A starved attempt is reported and leaves the fit and every answer as they were.
    let again = refit(&mut grpc, "2025-02-01").await;
    assert_eq!(again.status(), ModelFitStatus::NotEnoughData);
    let kept = ModelFit {
        status: fit.status,
        reason: fit.reason.clone(),
        attempted_at: fit.attempted_at.clone(),
        ..again.clone()
    };
    assert_eq!(kept, fit);
    let (id, before) = answers.iter().next().expect("a customer");
    let after = grpc
        .get_customer_model(GetCustomerModelRequest {
            customer_id: id.clone(),
        })
        .await
        .expect("known")
        .into_inner();
    assert_eq!(&after, before);

    summary_means_the_scores(&mut grpc, &fit, &fed.orders, &rows).await;
    json_routes_answer_as_the_rpcs(addr, &mut grpc, id, &as_of).await;
    against_lifetimes(&tx, &as_of, &fit, &answers, dir.path());
    holdout_against_lifetimes(&tx, &as_of, &fit);
    page_shows_the_fit(addr, &mut grpc, &as_of, &answers).await;
    fed.shutdown.cancel();
    fed.stack.wait().await.expect("clean stop");
}

async fn json_routes_answer_as_the_rpcs(
    addr: std::net::SocketAddr,
    grpc: &mut Grpc,
    id: &str,
    as_of: &str,
) {
    let http = get(addr, "/v1/models/fit").await;
    let rpc = grpc
        .get_model_fit(GetModelFitRequest {})
        .await
        .expect("fit")
        .into_inner();
    assert_eq!((http.status, &http.body), (200, &as_json(&rpc)));
    assert_eq!(http.body["status"], "MODEL_FIT_STATUS_NOT_ENOUGH_DATA");

    let http = get(addr, &format!("/v1/customers/{id}/model")).await;
    let rpc = grpc
        .get_customer_model(GetCustomerModelRequest {
            customer_id: id.to_owned(),
        })
        .await
        .expect("customer")
        .into_inner();
    assert_eq!((http.status, &http.body), (200, &as_json(&rpc)));

    // `portrait query` prints the same canonical JSON, enums by name.
    let printed = query_cli(addr, &["model-fit"]).await;
    assert_eq!(
        printed,
        as_json(
            &grpc
                .get_model_fit(GetModelFitRequest {})
                .await
                .expect("fit")
                .into_inner()
        )
    );
    assert_eq!(printed["model"], "TRANSACTION_MODEL_BG_NBD");
    let printed = query_cli(addr, &["customer-model", id]).await;
    assert_eq!(printed, as_json(&rpc));

    let http = get(addr, "/v1/customers/no-such-customer/model").await;
    assert_eq!(
        (http.status, http.body["code"].clone()),
        (404, Value::from(5))
    );

    let body = r#"{"asOfDate": "2025-13-01"}"#;
    let http = request(addr, "POST", "/v1/models:refit", Some(body)).await;
    assert_eq!(
        (http.status, http.body["code"].clone()),
        (400, Value::from(3))
    );
    let message = http.body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("as_of_date"), "{message}");

    let body = format!(r#"{{"asOfDate": "{as_of}"}}"#);
    let http = request(addr, "POST", "/v1/models:refit", Some(&body)).await;
    assert_eq!(http.status, 200, "{}", http.body);
    assert_eq!(
        http.body["status"], "MODEL_FIT_STATUS_FITTED",
        "{}",
        http.body
    );
}

async fn query_cli(addr: std::net::SocketAddr, args: &[&str]) -> Value {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
        .arg("query")
        .args(args)
        .args(["--gateway", &format!("http://{addr}")])
        .output()
        .await
        .expect("portrait query runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Through the canonical JSON mapping and back, as the gateway renders it.
fn as_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::from_str(&serde_json::to_string(v).expect("json")).expect("json")
}

fn python() -> Option<String> {
    portrait_testkit::server_env("PORTRAIT_PYTHON", "the Python reference libraries")
}

fn reference_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/models/reference/btyd_reference.py")
}

/// lifetimes on the same CSV: parameters within 1 %, P(alive) and expected purchases within
/// 1e-3, expected spend within 1e-3 relative, CLV within 1e-2 relative (btyd_reference.rs's
/// tolerances: two optimisers stop at slightly different points of a flat likelihood).
fn against_lifetimes(
    tx: &Path,
    as_of: &str,
    fit: &ModelFit,
    answers: &BTreeMap<String, portrait_proto::v1::CustomerModel>,
    dir: &Path,
) {
    let Some(python) = python() else {
        return;
    };
    let out = dir.join("lifetimes");
    let theirs: Value = serde_json::from_str(&output(
        Command::new(python)
            .arg(reference_script())
            .args(["fit", "--freq", "W", "--horizon", "52", "--calibration-end"])
            .arg(as_of)
            .arg("--csv")
            .arg(tx)
            .arg("--out")
            .arg(&out),
    ))
    .expect("reference json");
    let p = fit.parameters.expect("parameters");
    for (section, name, got) in [
        ("transaction_model", "r", p.r),
        ("transaction_model", "alpha", p.alpha),
        ("transaction_model", "a", p.a),
        ("transaction_model", "b", p.b),
        ("gamma_gamma", "p", p.p),
        ("gamma_gamma", "q", p.q),
        ("gamma_gamma", "v", p.v),
    ] {
        let want = theirs[section][name].as_f64().expect("a parameter");
        eprintln!("{name}: service {got:.8}, lifetimes {want:.8}");
        close(&format!("lifetimes {name}"), got, want, 0.01);
    }
    let rows = table(&out.join("customers.csv"));
    assert_eq!(rows.len(), answers.len());
    for (id, want) in &rows {
        let got = &answers[id];
        let abs = |what: &str, g: f64, w: f64| {
            assert!(
                (g - w).abs() < 1e-3,
                "{id} {what}: service {g}, lifetimes {w}"
            );
        };
        abs("p_alive", got.alive_probability, want["p_alive"]);
        abs(
            "expected_purchases",
            got.expected_purchases,
            want["expected_purchases"],
        );
        abs(
            "expected_purchases_30d",
            got.expected_purchases_30d,
            want["expected_purchases_30d"],
        );
        abs(
            "expected_purchases_90d",
            got.expected_purchases_90d,
            want["expected_purchases_90d"],
        );
        close(
            &format!("{id} expected_spend"),
            got.expected_average_spend_fen,
            want["expected_spend"],
            1e-3,
        );
        close(
            &format!("{id} clv"),
            got.predicted_clv_fen,
            want["clv"],
            1e-2,
        );
    }
}

/// The calibration/holdout table equals lifetimes' on the same CSV: who is in each row and what
/// they bought exactly, the calibration fit and its predictions to the tolerances above.
fn holdout_against_lifetimes(tx: &Path, as_of: &str, fit: &ModelFit) {
    let h = fit
        .holdout
        .as_ref()
        .expect("models.holdout_days defaults to 90");
    assert_eq!(h.status(), ModelFitStatus::Fitted, "{h:?}");
    let as_of_day = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").expect("a day");
    let calibration_end = (as_of_day - chrono::TimeDelta::days(90)).to_string();
    assert_eq!(h.calibration_end, calibration_end);
    let Some(python) = python() else {
        return;
    };
    let theirs: Value = serde_json::from_str(&output(
        Command::new(python)
            .arg(reference_script())
            .args(["holdout", "--freq", "W", "--calibration-end"])
            .arg(&calibration_end)
            .args(["--observation-end", as_of, "--csv"])
            .arg(tx),
    ))
    .expect("reference json");
    assert_eq!(
        h.duration_periods,
        theirs["duration_periods"].as_f64().expect("duration")
    );
    let p = h.parameters.expect("calibration parameters");
    for (name, got) in [("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)] {
        let want = theirs["parameters"][name].as_f64().expect("a parameter");
        close(&format!("holdout {name}"), got, want, 0.01);
    }
    let want_rows = theirs["rows"].as_array().expect("rows");
    assert_eq!(h.rows.len(), want_rows.len(), "{h:?}");
    let total = h.total.as_ref().map(|t| (t, &theirs["total"]));
    assert!(total.is_some_and(|(t, _)| (t.frequency, t.and_more) == (0, true)));
    let rows = h.rows.iter().zip(want_rows).chain(total);
    for (got, want) in rows {
        let what = format!("holdout row {} (and more: {})", got.frequency, got.and_more);
        eprintln!("{what}: {got:?}, lifetimes {want}");
        if want.get("frequency").is_some() {
            assert_eq!(
                got.frequency,
                want["frequency"].as_i64().expect("x"),
                "{what}"
            );
            assert_eq!(
                got.and_more,
                want["and_more"].as_bool().expect("and_more"),
                "{what}"
            );
        }
        assert_eq!(
            got.customers,
            want["customers"].as_i64().expect("n"),
            "{what}"
        );
        let actual = want["actual_purchases"].as_f64().expect("actual");
        close(
            &format!("{what} actual"),
            got.actual_purchases,
            actual,
            1e-12,
        );
        let predicted = want["predicted_purchases"].as_f64().expect("predicted");
        assert!(
            (got.predicted_purchases - predicted).abs() < 1e-3,
            "{what} predicted: service {}, lifetimes {predicted}",
            got.predicted_purchases
        );
    }
}

/// The page's model panel and a customer's drawer with a fit in service (the tour's chain
/// cannot be fitted, so only here is the fitted branch shown).
async fn page_shows_the_fit(
    addr: std::net::SocketAddr,
    grpc: &mut Grpc,
    as_of: &str,
    answers: &BTreeMap<String, portrait_proto::v1::CustomerModel>,
) {
    let Some(python) = portrait_testkit::browser::python() else {
        return;
    };
    let (id, model) = answers.iter().next().expect("a customer");
    let spec = serde_json::json!({
        "mode": "models",
        "url": format!("http://{addr}"),
        "asOf": as_of,
        "customerId": id,
        "screenshots": portrait_testkit::browser::screenshots(env!("CARGO_TARGET_TMPDIR"), "models"),
    })
    .to_string();
    let report =
        tokio::task::spawn_blocking(move || portrait_testkit::browser::drive(&python, &spec))
            .await
            .expect("the browser ran");
    let report: Value = serde_json::from_str(&report).expect("a JSON report");
    let state = &report["states"]["models"];
    assert!(
        page_models::check_model_panel(grpc, state).await,
        "a fit in service"
    );
    page_models::check_flows_panel(grpc, state).await;
    let facts = &state["drawer"]["facts"];
    let fact = |k: &str| facts[k].as_str().and_then(|v| v.parse::<f64>().ok());
    assert_eq!(
        fact("expected30d"),
        Some(model.expected_purchases_30d),
        "{facts}"
    );
    assert_eq!(
        fact("expected90d"),
        Some(model.expected_purchases_90d),
        "{facts}"
    );
    assert_eq!(fact("alive"), Some(model.alive_probability), "{facts}");
    assert_eq!(report["errors"], serde_json::json!([]), "console errors");
}
