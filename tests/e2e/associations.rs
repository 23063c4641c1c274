//! Product associations through the gateway against the oracle's self-join of
//! order lines: counts exact, ratios to 1e-12.

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AssociationBasis, AssociationOrder, AssociationsRequest};
use tonic::transport::Channel;

use crate::oracle::{Oracle, Q, RuleRow};

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-12 * want.abs().max(1.0)
}

/// The rules for the stores and cities of `q` over all history, and over
/// customers inside a window, ranked three ways, with and without thresholds
/// and limits.
pub(crate) async fn assert_associations(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let as_of = chrono::NaiveDate::parse_from_str(&q.as_of, "%Y-%m-%d")
        .unwrap_or_else(|_| chrono::Utc::now().date_naive());
    let q = Q {
        stores: q.stores.clone(),
        cities: q.cities.clone(),
        ..Default::default()
    };
    for basis in [AssociationBasis::Basket, AssociationBasis::Customer] {
        assert_basis(gateway, oracle, &q, basis).await;
    }
    // Customers who bought both inside a window (the 45 days up to as_of),
    // counted from the customer portrait's rows.
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let window = Q {
        from: day(as_of - chrono::Days::new(45)),
        to: day(as_of + chrono::Days::new(1)),
        ..q.clone()
    };
    assert_basis(gateway, oracle, &window, AssociationBasis::Customer).await;
    // Baskets take no dates: refused naming the field.
    let dated = Q {
        from: "2025-03-20".into(),
        ..q.clone()
    };
    let refused = gateway
        .get_associations(AssociationsRequest {
            filter: Some(dated.filter()),
            ..Default::default()
        })
        .await
        .expect_err("a date is refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("filter.from_date"),
        "{refused:?}"
    );
}

async fn assert_basis(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
    basis: AssociationBasis,
) {
    let customers = basis == AssociationBasis::Customer;
    let population = oracle.baskets(q, customers).await;
    if !q.from.is_empty() && q.stores.is_empty() && q.cities.is_empty() {
        assert!(population > 0, "customers inside the window {q:?}");
    }
    let cases = [
        (AssociationOrder::Lift, 0, 0.0, 1000),
        (AssociationOrder::Confidence, 3, 0.0, 7),
        (AssociationOrder::Support, 0, 0.01, 1000),
        (AssociationOrder::Unspecified, 2, 0.002, 25),
    ];
    for (order, min_count, min_support, limit) in cases {
        let got = gateway
            .get_associations(AssociationsRequest {
                filter: Some(q.filter()),
                basis: basis as i32,
                min_support,
                min_count,
                limit,
                order_by: order as i32,
            })
            .await
            .expect("associations")
            .into_inner();
        let mut want = oracle
            .associations(q, customers, order as i32, min_count, min_support)
            .await;
        let chain = q.stores.is_empty() && q.cities.is_empty() && q.from.is_empty();
        if order == AssociationOrder::Lift && chain {
            assert!(
                want.len() > 20 && want.len() < 1000,
                "the chain's {basis:?} rules fit one answer and prove something: {}",
                want.len()
            );
        }
        want.truncate(limit as usize);
        assert_eq!(got.population, population, "{basis:?} population for {q:?}");
        assert_eq!(got.basis, basis as i32);
        let filter = got.filter.clone().unwrap_or_default();
        assert_eq!(
            (filter.store_ids, filter.cities),
            (q.stores.clone(), q.cities.clone())
        );
        assert_eq!(
            (filter.from_date, filter.to_date),
            (q.from.clone(), q.to.clone())
        );
        let rows: Vec<RuleRow> = (got.associations.iter())
            .map(|a| RuleRow {
                antecedent: a.antecedent_id.clone(),
                consequent: a.consequent_id.clone(),
                counts: (a.count, a.antecedent_count, a.consequent_count),
                figures: (a.support, a.confidence, a.lift),
            })
            .collect();
        let ids = |r: &[RuleRow]| -> Vec<(String, String, (i64, i64, i64))> {
            (r.iter())
                .map(|r| (r.antecedent.clone(), r.consequent.clone(), r.counts))
                .collect()
        };
        assert_eq!(
            ids(&rows),
            ids(&want),
            "{basis:?} {order:?} rules for {q:?}"
        );
        for (g, w) in rows.iter().zip(&want) {
            let (g, w) = (g.figures, w.figures);
            assert!(
                close(g.0, w.0) && close(g.1, w.1) && close(g.2, w.2),
                "figures {g:?} against {w:?} for {q:?}"
            );
        }
        assert!(
            got.associations
                .iter()
                .all(|a| !a.antecedent_name.is_empty()),
            "product names are served"
        );
    }
}
