use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Backend, Error, Result, Store};

/// One named schema change, embedded from a `.sql` file next to its owner.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Embeds `<crate>/<dir>/<name>.sql` for each name, in order:
/// `migrations!("migrations", ["0001_orders", "0002_outbox"])`.
#[macro_export]
macro_rules! migrations {
    ($dir:literal, [$($name:literal),* $(,)?]) => {
        &[$($crate::Migration {
            name: $name,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name, ".sql")),
        }),*]
    };
}

/// The shared consumer bookkeeping: log positions, applied revisions, counters.
pub const CONSUMER_MIGRATIONS: &[Migration] = migrations!(
    "migrations/consumer",
    [
        "0001_positions",
        "0002_applied",
        "0003_counters",
        "0004_applied_clustered",
        "0005_log_state"
    ]
);

/// The statements of a migration file: `;` ends a statement at the end of a
/// line; `--` comment lines are dropped. Migration files keep to that.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let line = line.trim_end();
        if line.trim_start().starts_with("--") || line.trim().is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Applies the migrations of `scope` not applied yet. Each scope's list is
    /// append-only: an applied migration must keep its place, name and
    /// checksum, or start-up stops and says which one differs. `{blob}` and
    /// `{serial}` become the backend's binary and auto-increment key types;
    /// `{clustered}` after a table's `)` stores its rows in the primary key's
    /// tree on SQLite (`WITHOUT ROWID`) and means nothing on PostgreSQL.
    pub async fn migrate(&self, scope: &str, migrations: &[Migration]) -> Result<()> {
        let legacy = sqlx::query(self.table_exists())
            .bind("schema_migrations")
            .fetch_optional(self.pool())
            .await?;
        if legacy.is_some() {
            return Err(Error::Schema(
                "this database was made by an older Portrait that numbered its migrations by \
                 position; it cannot be upgraded in place. Give the service an empty database \
                 and it rebuilds its tables from the log"
                    .into(),
            ));
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS portrait_migrations (scope TEXT NOT NULL, seq BIGINT NOT NULL, \
             name TEXT NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (scope, seq))",
        )
        .execute(self.pool())
        .await?;
        let applied = sqlx::query(
            "SELECT seq, name, checksum FROM portrait_migrations WHERE scope = $1 ORDER BY seq",
        )
        .bind(scope)
        .fetch_all(self.pool())
        .await?;
        for (i, row) in applied.iter().enumerate() {
            let name: String = row.try_get(1)?;
            let sum: String = row.try_get(2)?;
            let Some(m) = migrations.get(i) else {
                return Err(Error::Schema(format!(
                    "{scope}: the database has migration {name:?}, which this build does not know \
                     (was it made by a newer Portrait?)"
                )));
            };
            if m.name != name {
                return Err(Error::Schema(format!(
                    "{scope}: migration #{} is {name:?} in the database but {:?} in this build; \
                     migrations are append-only",
                    i + 1,
                    m.name
                )));
            }
            if checksum(m.sql) != sum {
                return Err(Error::Schema(format!(
                    "{scope}: migration {name:?} was changed after it was applied; \
                     add a new migration instead"
                )));
            }
        }
        for (seq, m) in migrations.iter().enumerate().skip(applied.len()) {
            let failed = |source| Error::Migration {
                scope: scope.to_owned(),
                name: m.name,
                source,
            };
            let mut tx = self.begin().await?;
            for statement in statements(&self.dialect(m.sql)) {
                sqlx::query(&statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
            sqlx::query(
                "INSERT INTO portrait_migrations (scope, seq, name, checksum) VALUES ($1, $2, $3, $4)",
            )
            .bind(scope)
            .bind(seq as i64)
            .bind(m.name)
            .bind(checksum(m.sql))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            tracing::info!(scope, migration = m.name, "migration applied");
        }
        Ok(())
    }

    fn table_exists(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
            Backend::Postgres => {
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
            }
        }
    }

    fn dialect(&self, statement: &str) -> String {
        let (blob, serial, clustered) = match self.backend {
            Backend::Sqlite => (
                "BLOB",
                "INTEGER PRIMARY KEY AUTOINCREMENT",
                " WITHOUT ROWID",
            ),
            Backend::Postgres => ("BYTEA", "BIGSERIAL PRIMARY KEY", ""),
        };
        statement
            .replace("{blob}", blob)
            .replace("{serial}", serial)
            .replace("{clustered}", clustered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_ends_and_drop_comments() {
        let sql = "-- why\nCREATE TABLE a (\n  x BIGINT\n);\n\nCREATE INDEX i ON a (x);\n";
        let s = statements(sql);
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE TABLE a") && s[0].contains("x BIGINT"));
        assert_ne!(checksum(sql), checksum(&sql.replace("BIGINT", "TEXT")));
    }
}
