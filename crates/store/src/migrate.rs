use sqlx::Row;

use crate::{Backend, Error, Result, Store};

/// Tables every consumer keeps beside its own: where it is in the log, which
/// events it applied, and its counters.
pub const BASE_MIGRATIONS: &[&str] = &[
    "CREATE TABLE positions (topic TEXT NOT NULL, part BIGINT NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (topic, part))",
    "CREATE TABLE applied (order_id TEXT NOT NULL, revision BIGINT NOT NULL, PRIMARY KEY (order_id, revision))",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
];

impl Store {
    /// Applies, in order, the migrations not applied yet. `{blob}` and `{serial}`
    /// in a statement become the backend's binary and auto-increment key types.
    pub async fn migrate(&self, service: &str, migrations: &[&str]) -> Result<()> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (service TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (service, version))",
        )
        .execute(self.pool())
        .await?;
        let done: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM schema_migrations WHERE service = $1",
        )
        .bind(service)
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        for (version, statement) in migrations.iter().enumerate().skip(done as usize) {
            let sql = self.dialect(statement);
            let mut tx = self.begin().await?;
            let failed = |source| Error::Migration {
                service: service.to_owned(),
                version: version + 1,
                source,
            };
            sqlx::query(&sql).execute(&mut *tx).await.map_err(failed)?;
            sqlx::query("INSERT INTO schema_migrations (service, version) VALUES ($1, $2)")
                .bind(service)
                .bind(version as i64 + 1)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
        }
        Ok(())
    }

    fn dialect(&self, statement: &str) -> String {
        let (blob, serial) = match self.backend {
            Backend::Sqlite => ("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            Backend::Postgres => ("BYTEA", "BIGSERIAL PRIMARY KEY"),
        };
        statement
            .replace("{blob}", blob)
            .replace("{serial}", serial)
    }
}
