//! A store-scoped and a city-scoped token see exactly what an admin sees for
//! the filter naming their stores or city; outside their scope, nothing.

use portrait_auth::JwtSettings;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    Filter, GetCustomerRequest, ListCustomersRequest, OverviewRequest, SegmentDistributionRequest,
};
use portrait_synth::ChainSpec;
use tonic::Code;

use super::{OTHER_STORE, SCOPED_STORES, settings, support};
use support::http::request_as;

type Client = PortraitServiceClient<portrait_service::BearerChannel>;

fn filter(as_of: &str, stores: &[&str], cities: &[&str]) -> Option<Filter> {
    Some(Filter {
        store_ids: stores.iter().map(|s| (*s).to_owned()).collect(),
        cities: cities.iter().map(|s| (*s).to_owned()).collect(),
        as_of_date: as_of.to_owned(),
        ..Filter::default()
    })
}

async fn overview(
    c: &mut Client,
    filter: Option<Filter>,
) -> Result<portrait_proto::v1::Overview, tonic::Status> {
    c.get_overview(OverviewRequest { filter })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_token_sees_only_its_stores() {
    let (chain, _) = portrait_synth::generate(&ChainSpec::small(43));
    let city_of = |id: &str| {
        chain
            .stores
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.city.clone())
            .expect("a store of the chain")
    };
    let city = city_of(SCOPED_STORES[0]);
    let (auth, keys) = settings(&city, JwtSettings::default());
    let admin_token = keys.tokens[2].clone();
    let fed = support::fed_stack_with_auth(43, auth, &admin_token).await;
    let gw = fed.stack.gateway_addr;
    let as_of = fed.as_of.clone();
    let mut admin = Client::new(support::authed(gw, &admin_token).await);
    let mut scoped = Client::new(support::authed(gw, &keys.stores_analyst).await);
    let mut by_city = Client::new(support::authed(gw, &keys.city_viewer).await);

    let whole = overview(&mut admin, filter(&as_of, &[], &[]))
        .await
        .expect("admin");
    let theirs = overview(&mut admin, filter(&as_of, &SCOPED_STORES, &[]))
        .await
        .expect("admin");
    assert_ne!(
        whole, theirs,
        "two stores are not the whole chain: the test could not fail"
    );
    let seen = overview(&mut scoped, filter(&as_of, &[], &[]))
        .await
        .expect("scoped");
    assert_eq!(seen, theirs, "no filter = the token's stores");

    let denied = overview(&mut scoped, filter(&as_of, &[OTHER_STORE], &[]))
        .await
        .expect_err("another store");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied.message().contains(OTHER_STORE),
        "{}",
        denied.message()
    );

    let one = overview(&mut admin, filter(&as_of, &[SCOPED_STORES[0]], &[]))
        .await
        .expect("admin");
    let asked = overview(
        &mut scoped,
        filter(&as_of, &[SCOPED_STORES[0], OTHER_STORE], &[]),
    )
    .await
    .expect("intersected");
    assert_eq!(asked, one, "asking wider is narrowed to the intersection");

    let second_city = city_of(SCOPED_STORES[1]);
    let two = overview(&mut admin, filter(&as_of, &[SCOPED_STORES[1]], &[]))
        .await
        .expect("admin");
    let asked = overview(&mut scoped, filter(&as_of, &[], &[&second_city]))
        .await
        .expect("a city");
    assert_eq!(asked, two, "a city is narrowed to the token's stores in it");

    let list = |f: Option<Filter>| ListCustomersRequest {
        filter: f,
        page_size: 1000,
        ..ListCustomersRequest::default()
    };
    let mine = scoped
        .list_customers(list(filter(&as_of, &[], &[])))
        .await
        .expect("list")
        .into_inner();
    let expected = admin
        .list_customers(list(filter(&as_of, &SCOPED_STORES, &[])))
        .await
        .expect("list")
        .into_inner();
    assert!(!expected.customers.is_empty());
    assert_eq!(mine, expected);

    let one_customer = scoped
        .get_customer(GetCustomerRequest {
            customer_id: expected.customers[0].customer_id.clone(),
            ..GetCustomerRequest::default()
        })
        .await
        .expect_err("a whole-chain portrait");
    assert_eq!(one_customer.code(), Code::PermissionDenied);

    let in_city = overview(&mut admin, filter(&as_of, &[], &[&city]))
        .await
        .expect("admin");
    assert_ne!(in_city, whole);
    assert_eq!(
        overview(&mut by_city, filter(&as_of, &[], &[]))
            .await
            .expect("city"),
        in_city
    );
    let segments = |f| SegmentDistributionRequest {
        filter: f,
        ..SegmentDistributionRequest::default()
    };
    assert_eq!(
        by_city
            .get_segment_distribution(segments(filter(&as_of, &[], &[])))
            .await
            .expect("city")
            .into_inner(),
        admin
            .get_segment_distribution(segments(filter(&as_of, &[], &[&city])))
            .await
            .expect("admin")
            .into_inner()
    );

    // The JSON routes narrow the same way.
    let target = format!("/v1/overview?asOfDate={as_of}");
    let seen = request_as(gw, "GET", &target, None, Some(&keys.stores_analyst)).await;
    let stores = SCOPED_STORES.map(|s| format!("storeIds={s}")).join("&");
    let theirs = request_as(
        gw,
        "GET",
        &format!("{target}&{stores}"),
        None,
        Some(&admin_token),
    )
    .await;
    assert_eq!((seen.status, &seen.body), (200, &theirs.body));
    let other = format!("{target}&storeIds={OTHER_STORE}");
    let denied = request_as(gw, "GET", &other, None, Some(&keys.stores_analyst)).await;
    assert_eq!(
        (denied.status, denied.body["code"].clone()),
        (403, serde_json::Value::from(7))
    );
    fed.stop().await;
}
