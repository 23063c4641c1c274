use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use crate::Result;

/// Next offset to read per partition, as last committed with the deltas.
pub async fn load_positions(conn: &mut AnyConnection, topic: &str) -> Result<Vec<(i32, i64)>> {
    let rows =
        sqlx::query("SELECT part, next_offset FROM positions WHERE topic = $1 ORDER BY part")
            .bind(topic)
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>("part")? as i32,
                r.try_get("next_offset")?,
            ))
        })
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
        .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
        .collect()
}
