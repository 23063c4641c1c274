use portrait_core::{CustomerAgg, ResolvedFilter};
use sqlx::{AnyPool, Row};

use crate::{Result, Sql};

/// Each customer's orders, spend, first and last order day inside the filter,
/// ordered by customer id. Needs `customer_days` and `stores`.
pub async fn customer_aggs(pool: &AnyPool, f: &ResolvedFilter) -> Result<Vec<CustomerAgg>> {
    let mut sql = Sql::new(
        "SELECT customer_id, CAST(SUM(orders) AS BIGINT), CAST(SUM(revenue) AS BIGINT), \
         MIN(day), MAX(day) FROM customer_days WHERE orders > 0 AND ",
    );
    sql.stores(f)
        .push(" AND ")
        .days(f.from, f.to)
        .push(" GROUP BY customer_id ORDER BY customer_id");
    let rows = sql.query().fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok(CustomerAgg {
                customer_id: r.try_get(0)?,
                orders: r.try_get(1)?,
                revenue: r.try_get(2)?,
                first_day: r.try_get::<i64, _>(3)? as i32,
                last_day: r.try_get::<i64, _>(4)? as i32,
            })
        })
        .collect()
}
