//! The chain's database, read-only: MySQL/MariaDB or PostgreSQL, chosen by the
//! URL's scheme. Every session is put in read-only mode before its first query,
//! so even a bug here cannot write to the source.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, ConnectOptions, Connection, Row};

use crate::map::{Shop, Shops, SourceLine, SourceOrder};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    MySql,
    Postgres,
}

impl Dialect {
    fn ident(self, name: &str) -> String {
        match self {
            Dialect::MySql => format!("`{name}`"),
            Dialect::Postgres => format!("\"{name}\""),
        }
    }

    fn int(self, column: &str) -> String {
        let c = self.ident(column);
        match self {
            Dialect::MySql => format!("CAST({c} AS SIGNED)"),
            Dialect::Postgres => format!("CAST({c} AS BIGINT)"),
        }
    }

    /// Decimals travel as text: no driver-specific decimal type, no float.
    fn decimal(self, column: &str) -> String {
        let c = self.ident(column);
        match self {
            Dialect::MySql => format!("CAST({c} AS CHAR)"),
            Dialect::Postgres => format!("CAST({c} AS TEXT)"),
        }
    }

    fn param(self, n: usize) -> String {
        match self {
            Dialect::MySql => "?".into(),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

/// A connection pool to the source.
#[derive(Debug, Clone)]
pub struct Source {
    pool: AnyPool,
    dialect: Dialect,
    url: String,
    orders_sql: String,
    lines_sql: String,
}

impl Source {
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let redacted = portrait_store::redact(url);
        let fail = |message: String| Error::Source {
            url: redacted.clone(),
            message,
        };
        let (dialect, url) = if let Some(rest) = url.strip_prefix("mariadb://") {
            (Dialect::MySql, format!("mysql://{rest}"))
        } else if url.starts_with("mysql://") {
            (Dialect::MySql, url.to_owned())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_owned())
        } else {
            return Err(fail(
                "sync.source must start with mysql://, mariadb:// or postgres://".into(),
            ));
        };
        let options = AnyConnectOptions::from_str(&url)
            // sqlx's message can quote the URL: keep only that it failed.
            .map_err(|_| fail("the URL does not parse".into()))?
            .log_statements(tracing::log::LevelFilter::Trace);
        let read_only = match dialect {
            Dialect::MySql => "SET SESSION TRANSACTION READ ONLY",
            Dialect::Postgres => "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        };
        // One direct attempt first: a pool retries until its timeout, while a
        // wrong host or password should fail the job at once.
        let probe = sqlx::AnyConnection::connect_with(&options)
            .await
            .map_err(|e| fail(scrub(&e.to_string(), &url)))?;
        let _ = probe.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(30))
            .after_connect(move |conn: &mut sqlx::AnyConnection, _meta| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, read_only).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| fail(scrub(&e.to_string(), &url)))?;
        let d = dialect;
        let orders_sql = format!(
            "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {} WHERE {} > {} ORDER BY {} LIMIT {}",
            d.int("id"),
            d.ident("openId"),
            d.int("vipId"),
            d.ident("vipTel"),
            d.int("shopId"),
            d.ident("shopName"),
            d.ident("recordTime"),
            d.decimal("total"),
            d.decimal("cash"),
            d.int("payState"),
            d.decimal("refundMoney"),
            d.int("delflag"),
            d.ident("takeoutName"),
            d.ident("Orders"),
            d.ident("id"),
            d.param(1),
            d.ident("id"),
            d.param(2),
        );
        let lines_sql = format!(
            "SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {} WHERE {} >= {} AND {} <= {} ORDER BY {}, {}",
            d.int("orderId"),
            d.int("id"),
            d.int("goodsId"),
            d.ident("goodsName"),
            d.int("categoryId"),
            d.ident("categoryName"),
            d.int("goodsNumber"),
            d.decimal("goodsPrice"),
            d.decimal("goodsTotal"),
            d.decimal("realIncomeAmount"),
            d.int("isRefund"),
            d.decimal("refundMoney"),
            d.int("delflag"),
            d.ident("OrderGoods"),
            d.ident("orderId"),
            d.param(1),
            d.ident("orderId"),
            d.param(2),
            d.ident("orderId"),
            d.ident("id"),
        );
        Ok(Self {
            pool,
            dialect,
            url: redacted,
            orders_sql,
            lines_sql,
        })
    }

    /// The URL without its password, for messages.
    pub fn redacted_url(&self) -> &str {
        &self.url
    }

    fn fail(&self, e: &sqlx::Error) -> Error {
        Error::Source {
            url: self.url.clone(),
            message: e.to_string(),
        }
    }

    pub async fn shops(&self) -> Result<Shops> {
        let d = self.dialect;
        let sql = format!(
            "SELECT {}, {}, {} FROM {}",
            d.int("Id"),
            d.ident("ShopName"),
            d.ident("city"),
            d.ident("Shop")
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(&e))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>(0)?,
                    Shop {
                        name: r.try_get(1)?,
                        city: r.try_get(2)?,
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.fail(&e))
    }

    /// How many orders have an id above `after` (for progress only).
    pub async fn count_after(&self, after: i64) -> Result<i64> {
        let d = self.dialect;
        let sql = format!(
            "SELECT CAST(COUNT(*) AS {}) FROM {} WHERE {} > {}",
            if d == Dialect::MySql {
                "SIGNED"
            } else {
                "BIGINT"
            },
            d.ident("Orders"),
            d.ident("id"),
            d.param(1)
        );
        sqlx::query(&sql)
            .bind(after)
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| self.fail(&e))
    }

    /// Up to `limit` orders with an id above `after`, in id order, with their lines.
    pub async fn page(&self, after: i64, limit: i64) -> Result<Vec<SourceOrder>> {
        let rows = sqlx::query(&self.orders_sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(&e))?;
        let mut orders: Vec<SourceOrder> = rows
            .iter()
            .map(order_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.fail(&e))?;
        let (Some(first), Some(last)) = (orders.first(), orders.last()) else {
            return Ok(orders);
        };
        let lines = sqlx::query(&self.lines_sql)
            .bind(first.id)
            .bind(last.id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(&e))?;
        let index: HashMap<i64, usize> =
            orders.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
        for r in &lines {
            let (order_id, line) = line_row(r).map_err(|e| self.fail(&e))?;
            if let Some(&i) = index.get(&order_id) {
                orders[i].lines.push(line);
            }
        }
        Ok(orders)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn order_row(r: &AnyRow) -> Result<SourceOrder, sqlx::Error> {
    Ok(SourceOrder {
        id: r.try_get(0)?,
        open_id: r.try_get(1)?,
        vip_id: r.try_get(2)?,
        vip_tel: r.try_get(3)?,
        shop_id: r.try_get(4)?,
        shop_name: r.try_get(5)?,
        record_time: r.try_get(6)?,
        total: r.try_get(7)?,
        cash: r.try_get(8)?,
        pay_state: r.try_get(9)?,
        refund_money: r.try_get(10)?,
        delflag: r.try_get(11)?,
        takeout_name: r.try_get(12)?,
        lines: Vec::new(),
        import_error: None,
    })
}

fn line_row(r: &AnyRow) -> Result<(i64, SourceLine), sqlx::Error> {
    Ok((
        r.try_get(0)?,
        SourceLine {
            id: r.try_get(1)?,
            goods_id: r.try_get(2)?,
            goods_name: r.try_get(3)?,
            category_id: r.try_get(4)?,
            category_name: r.try_get(5)?,
            goods_number: r.try_get(6)?,
            goods_price: r.try_get(7)?,
            goods_total: r.try_get(8)?,
            real_income: r.try_get(9)?,
            is_refund: r.try_get(10)?,
            refund_money: r.try_get(11)?,
            delflag: r.try_get(12)?,
        },
    ))
}

/// A driver error may quote the URL it was given: never let the password out.
fn scrub(message: &str, url: &str) -> String {
    let redacted = portrait_store::redact(url);
    let mut out = message.replace(url, &redacted);
    if let (Some(s), Some(at)) = (url.find("://"), url.find('@'))
        && at > s
        && let Some((_, password)) = url[s + 3..at].split_once(':')
        && !password.is_empty()
    {
        out = out.replace(password, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_carry_the_password() {
        let url = "mysql://reader:s3cr3t@db:3306/cyrg2025";
        let msg = scrub(
            &format!("cannot connect to {url}: password s3cr3t refused"),
            url,
        );
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(msg.contains("reader:***@db"), "{msg}");
    }

    #[tokio::test]
    async fn a_failed_connection_names_the_source_without_the_password() {
        for url in [
            "mysql://reader:Pa55word@127.0.0.1:1/cyrg2025",
            "postgres://reader:Pa55word@127.0.0.1:1/cyrg2025",
        ] {
            let err = Source::connect(url).await.unwrap_err().to_string();
            assert!(!err.contains("Pa55word"), "{err}");
            assert!(err.contains("reader:***@127.0.0.1:1"), "{err}");
        }
    }

    /// The session guard, not good manners, keeps the source unwritten.
    #[tokio::test]
    async fn sessions_cannot_write() {
        let mut urls = Vec::new();
        if let Ok(admin) = std::env::var("PORTRAIT_TEST_MYSQL_URL") {
            let name = format!("sync_ro_{}", std::process::id());
            let mut conn = <sqlx::MySqlConnection as Connection>::connect(&admin)
                .await
                .unwrap();
            sqlx::Executor::execute(
                &mut conn,
                format!("CREATE DATABASE IF NOT EXISTS {name}").as_str(),
            )
            .await
            .unwrap();
            urls.push(format!("{}/{name}", admin.trim_end_matches('/')));
        } else {
            eprintln!("skipped MariaDB: PORTRAIT_TEST_MYSQL_URL not set; run bash tests/run");
        }
        if let Ok(pg) = std::env::var("PORTRAIT_TEST_PG_URL") {
            urls.push(pg);
        } else {
            eprintln!("skipped PostgreSQL: PORTRAIT_TEST_PG_URL not set; run bash tests/run");
        }
        for url in urls {
            let source = Source::connect(&url).await.unwrap();
            let err = sqlx::query("CREATE TABLE sync_must_not_exist (id INT)")
                .execute(&source.pool)
                .await
                .expect_err("a read-only session refuses writes")
                .to_string();
            assert!(err.to_lowercase().contains("read"), "{err}");
            source.close().await;
        }
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_without_the_password() {
        let err = Source::connect("oracle://u:pw@h/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sync.source") && !err.contains(":pw@"),
            "{err}"
        );
    }
}
