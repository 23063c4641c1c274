//! The customer models through the gateway against their oracle: per-customer weekly
//! summaries computed in PostgreSQL from the raw accepted orders (`date_trunc('week', …)` is
//! Monday-based, as lifetimes'), fitted with the models crate in the test.

use portrait_models::btyd::{TransactionModel, customer_lifetime_value, fit_population};
use portrait_models::summary::{CustomerSummary, Period};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{GetCustomerModelRequest, ModelFitStatus, RefitModelsRequest};
use tonic::transport::Channel;

use crate::oracle::Oracle;

fn close(what: &str, got: f64, want: f64) {
    let tolerance = 1e-9 * got.abs().max(want.abs()) + 1e-12;
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: service {got}, oracle {want}"
    );
}

/// Refits as of `as_of` and compares the fit and every customer's figures.
pub(crate) async fn assert_models(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    as_of: &str,
) {
    let fit = gateway
        .refit_models(RefitModelsRequest {
            as_of_date: as_of.to_owned(),
        })
        .await
        .expect("refit")
        .into_inner();
    let rows = oracle.weekly_summaries(as_of).await;
    let summaries: Vec<CustomerSummary> = rows.iter().map(|r| r.summary).collect();
    let repeaters = summaries.iter().filter(|s| s.frequency > 0).count();
    let want = match fit_population(&summaries) {
        Ok(w) if repeaters >= 20 => w,
        other => {
            // The same data must refuse to fit in the service too, and say why.
            assert_ne!(fit.status(), ModelFitStatus::Fitted, "{other:?} {fit:?}");
            assert!(fit.reason.contains(as_of), "{fit:?}");
            eprintln!("no fit as of {as_of}, as the models crate: {}", fit.reason);
            return;
        }
    };
    assert_eq!(fit.status(), ModelFitStatus::Fitted, "{fit:?}");
    assert_eq!(fit.as_of_date, as_of);
    assert_eq!(fit.customers, rows.len() as i64);
    assert_eq!(fit.repeat_customers, repeaters as i64);
    let p = fit.parameters.expect("parameters");
    let (bg, gg) = (want.bgnbd.params, want.gamma_gamma.params);
    for (name, got, want) in [
        ("r", p.r, bg.r),
        ("alpha", p.alpha, bg.alpha),
        ("a", p.a, bg.a),
        ("b", p.b, bg.b),
        ("p", p.p, gg.p),
        ("q", p.q, gg.q),
        ("v", p.v, gg.v),
        (
            "log-likelihood",
            fit.log_likelihood,
            want.bgnbd.log_likelihood,
        ),
    ] {
        close(name, got, want);
    }
    for r in &rows {
        let got = gateway
            .get_customer_model(GetCustomerModelRequest {
                customer_id: r.customer_id.clone(),
            })
            .await
            .expect("a known customer")
            .into_inner();
        let s = &r.summary;
        let id = &r.customer_id;
        assert!(got.fitted, "{id}");
        assert_eq!(got.frequency, i64::from(s.frequency), "{id}");
        assert_eq!(got.historical_clv_fen, r.total_fen, "{id}");
        let clv = customer_lifetime_value(&bg, &gg, s, 12, 0.01, Period::Week).expect("clv");
        for (what, got, want) in [
            ("recency", got.recency, s.recency),
            ("age", got.age, s.age),
            ("monetary", got.monetary_fen, s.monetary),
            (
                "P(alive)",
                got.alive_probability,
                bg.probability_alive(s).expect("alive"),
            ),
            (
                "expected purchases",
                got.expected_purchases,
                bg.expected_purchases(52.0, s).expect("purchases"),
            ),
            (
                "expected spend",
                got.expected_average_spend_fen,
                gg.expected_spend(s.frequency, s.monetary).expect("spend"),
            ),
            ("predicted CLV", got.predicted_clv_fen, clv),
        ] {
            close(&format!("{id} {what}"), got, want);
        }
    }
    eprintln!(
        "customer models as of {as_of} equal the oracle's for {} customers",
        rows.len()
    );
}
