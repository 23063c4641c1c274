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

/// One counter's value; 0 for a counter never added to.
pub async fn load_counter(conn: &mut AnyConnection, name: &str) -> Result<i64> {
    let row = sqlx::query("SELECT value FROM counters WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get(0)?,
        None => 0,
    })
}

pub async fn load_counters(conn: &mut AnyConnection) -> Result<Counters> {
    let rows = sqlx::query("SELECT name, value FROM counters")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
        .collect()
}

/// The consumer's log state: the publication it follows and why it stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogState {
    pub epoch: i64,
    pub condition: Option<String>,
}

pub async fn load_log_state(conn: &mut AnyConnection) -> Result<LogState> {
    let rows = sqlx::query("SELECT name, value, note FROM log_state")
        .fetch_all(conn)
        .await?;
    let mut state = LogState::default();
    for r in &rows {
        let name: String = r.try_get("name")?;
        match name.as_str() {
            "epoch" => state.epoch = r.try_get("value")?,
            "condition" => state.condition = Some(r.try_get("note")?),
            _ => {}
        }
    }
    Ok(state)
}

pub async fn save_log_state(conn: &mut AnyConnection, state: &LogState) -> Result<()> {
    sqlx::query("DELETE FROM log_state")
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO log_state (name, value, note) VALUES ('epoch', $1, '')")
        .bind(state.epoch)
        .execute(&mut *conn)
        .await?;
    if let Some(condition) = &state.condition {
        sqlx::query("INSERT INTO log_state (name, value, note) VALUES ('condition', 0, $1)")
            .bind(condition.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Empties every table of this database but the migrations' record, `kept`
/// (a service's own records, e.g. the marketer's adoptions) and the
/// `published_*` / `followed_*` tables: the projection, its positions,
/// applied revisions, counters and log state.
/// What `portrait rebuild` does before the service reads a fresh publication.
pub async fn reset_tables(conn: &mut AnyConnection, kept: &[&str]) -> Result<Vec<String>> {
    let list = if crate::is_sqlite(conn) {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else {
        "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    };
    let rows = sqlx::query(list).fetch_all(&mut *conn).await?;
    let mut emptied = Vec::new();
    for r in &rows {
        let name: String = r.try_get("name")?;
        // published_* and followed_* tables record what a service published
        // to or read from another log than orders.v1 (segments.v1): a fresh
        // publication of the orders changes none of it.
        // The audit log records the rebuild itself, and who was refused before.
        if name == "portrait_migrations"
            || name == "audit_events"
            || kept.contains(&name.as_str())
            || name.starts_with("published_")
            || name.starts_with("followed_")
        {
            continue;
        }
        // Names come from the catalog, not from a caller; quoted all the same.
        sqlx::query(&format!("DELETE FROM \"{}\"", name.replace('"', "\"\"")))
            .execute(&mut *conn)
            .await?;
        emptied.push(name);
    }
    Ok(emptied)
}
