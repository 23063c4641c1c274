use std::collections::{BTreeMap, HashSet};

use sqlx::{AnyConnection, Row};

use crate::{Result, Sql};

/// Next offset to read per partition, as last committed with the deltas.
pub async fn load_positions(conn: &mut AnyConnection, topic: &str) -> Result<Vec<(i32, i64)>> {
    let rows =
        sqlx::query("SELECT part, next_offset FROM positions WHERE topic = $1 ORDER BY part")
            .bind(topic)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)? as i32, r.try_get(1)?)))
        .collect()
}

pub async fn save_positions(
    conn: &mut AnyConnection,
    topic: &str,
    positions: &[(i32, i64)],
) -> Result<()> {
    for &(part, next) in positions {
        sqlx::query(
            "INSERT INTO positions (topic, part, next_offset) VALUES ($1, $2, $3) \
             ON CONFLICT (topic, part) DO UPDATE SET next_offset = excluded.next_offset",
        )
        .bind(topic)
        .bind(i64::from(part))
        .bind(next)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// For each (order, revision), whether it was never applied before. Repeats
/// inside `keys` count as applied after their first occurrence.
pub async fn new_events(conn: &mut AnyConnection, keys: &[(String, i64)]) -> Result<Vec<bool>> {
    let mut seen: HashSet<(String, i64)> = HashSet::new();
    let ids: Vec<&String> = {
        let mut ids: Vec<&String> = keys.iter().map(|(id, _)| id).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new("SELECT order_id, revision FROM applied WHERE order_id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(id.as_str());
        }
        sql.push(")");
        for row in sql.query().fetch_all(&mut *conn).await? {
            seen.insert((row.try_get(0)?, row.try_get(1)?));
        }
    }
    Ok(keys.iter().map(|k| seen.insert(k.clone())).collect())
}

pub async fn record_applied(conn: &mut AnyConnection, keys: &[(String, i64)]) -> Result<()> {
    for chunk in keys.chunks(400) {
        let mut sql = Sql::new("INSERT INTO applied (order_id, revision) VALUES ");
        for (i, (id, rev)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(id.as_str()).push(", ").bind(*rev).push(")");
        }
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

pub type Counters = BTreeMap<String, i64>;

pub async fn add_counters(conn: &mut AnyConnection, deltas: &[(&str, i64)]) -> Result<()> {
    for &(name, by) in deltas {
        if by == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
        )
        .bind(name)
        .bind(by)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn load_counters(conn: &mut AnyConnection) -> Result<Counters> {
    let rows = sqlx::query("SELECT name, value FROM counters")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
