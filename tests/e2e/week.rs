//! The stores' week (weekday × hour) through the gateway against SQL.

use portrait_proto::v1::HourDistributionRequest;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use sqlx::Row;
use tonic::transport::Channel;

use crate::oracle::{BEFORE_END, FROM, IN_STORES, Oracle, Q};

pub(crate) async fn assert_week(
    gateway: &mut PortraitServiceClient<Channel>,
    oracle: &Oracle,
    q: &Q,
) {
    let answer = gateway
        .get_hour_distribution(HourDistributionRequest {
            filter: Some(q.filter()),
        })
        .await
        .expect("hours")
        .into_inner();
    let sql = format!(
        "SELECT w, h, COUNT(raw.order_id), COALESCE(SUM(raw.amount), 0)::bigint \
         FROM generate_series(1, 7) w CROSS JOIN generate_series(0, 23) h \
         LEFT JOIN raw ON EXTRACT(ISODOW FROM raw.day) = w AND raw.hour = h \
           AND {IN_STORES} AND {FROM} AND {BEFORE_END} \
         GROUP BY w, h ORDER BY w, h"
    );
    let want: Vec<(i32, i32, i64, i64)> = Oracle::query(&sql, q)
        .fetch_all(&oracle.pool)
        .await
        .expect("week")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let got: Vec<(i32, i32, i64, i64)> = (answer.weekday_hours.iter())
        .map(|b| (b.weekday, b.hour, b.orders, b.revenue_fen))
        .collect();
    assert_eq!(got, want, "weekday x hour for {q:?}");
}
