//! A database that goes away while the service runs: a query answers that the
//! database is unreachable once the acquire timeout has passed, instead of
//! waiting for sqlx's own 30 s (issue 12, "fail fast").

use std::time::Duration;

use portrait_store::Store;
use portrait_testkit::proxy::Proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_says_unreachable_once_the_database_is_gone() {
    let Some(url) = portrait_testkit::postgres::fresh_database().await else {
        return;
    };
    let (proxy, via) = Proxy::in_front_of(&url).await;
    let store = Store::connect_with(&via, Duration::from_millis(500))
        .await
        .expect("store through the proxy");
    let one: i64 = sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
        .fetch_one(store.pool())
        .await
        .expect("a query while the database is there");
    assert_eq!(one, 1);

    proxy.cut();
    // The pooled connection's socket is gone; new ones are refused. The
    // guard is far above the 0.5 s asked for and below sqlx's own 30 s: a
    // store without the timeout fails here.
    // Twice: the pooled connection fails first, then a new one is awaited.
    for _ in 0..2 {
        let answer = tokio::time::timeout(
            Duration::from_secs(15),
            sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)").fetch_one(store.pool()),
        )
        .await
        .expect("the query answers instead of hanging");
        let err = portrait_store::Error::from(answer.expect_err("the database is gone"));
        assert!(err.is_unreachable(), "{err}");
    }
}
