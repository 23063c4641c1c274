//! The distributed bench's databases: one fresh PostgreSQL database per
//! service, made on the given server and dropped at the end.

use anyhow::Context;
use portrait_store::redact;
use sqlx::{Connection, Executor, PgConnection};

use super::dist::SERVICES;

/// One fresh database per service on the given server.
pub(crate) struct Databases {
    pub(crate) admin: String,
    pub(crate) names: Vec<(&'static str, String)>,
}

impl Databases {
    pub(crate) async fn create(admin: &str, stamp: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            admin.starts_with("postgres://") || admin.starts_with("postgresql://"),
            "--postgres-url {} must start with postgres:// or postgresql://",
            redact(admin)
        );
        let mut databases = Self {
            admin: admin.to_owned(),
            names: Vec::new(),
        };
        let made = databases.create_each(stamp).await;
        if made.is_err() {
            databases.drop_all().await;
        }
        made.map(|()| databases)
    }

    async fn create_each(&mut self, stamp: &str) -> anyhow::Result<()> {
        let mut conn = self.connect().await?;
        for service in SERVICES {
            let name = format!("portrait_bench_{stamp}_{service}");
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .with_context(|| format!("failed to create the database {name}"))?;
            self.names.push((service, name));
        }
        Ok(())
    }

    async fn connect(&self) -> anyhow::Result<PgConnection> {
        PgConnection::connect(&self.admin)
            .await
            .with_context(|| format!("failed to connect to {}", redact(&self.admin)))
    }

    pub(crate) fn url(&self, service: &str) -> anyhow::Result<String> {
        let name = self
            .names
            .iter()
            .find_map(|(s, n)| (*s == service).then_some(n))
            .with_context(|| format!("no database for {service}"))?;
        with_database(&self.admin, name)
    }

    /// Best effort: a database left behind is named in a warning.
    pub(crate) async fn drop_all(&self) {
        if self.names.is_empty() {
            return;
        }
        let conn = self.connect().await;
        let Ok(mut conn) = conn else {
            tracing::warn!(databases = ?self.names, "failed to reconnect to drop the bench databases");
            return;
        };
        for (_, name) in &self.names {
            // FORCE: a killed service's connections may not be gone yet.
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = conn.execute(sql.as_str()).await {
                tracing::warn!(database = %name, error = %e, "failed to drop a bench database");
            }
        }
        let _ = conn.close().await;
    }
}

/// The password of `user:password@` in a URL, if any.
pub(crate) fn password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let creds = &rest[..rest.find('@')?];
    creds
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

/// `url` with its database (the path) replaced by `name`; the query stays.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let authority = head
        .find("://")
        .map(|i| i + 3)
        .with_context(|| format!("{} is not a URL", redact(url)))?;
    let path = head[authority..]
        .find('/')
        .map_or(head.len(), |i| authority + i);
    Ok(match query {
        Some(q) => format!("{}/{name}?{q}", &head[..path]),
        None => format!("{}/{name}", &head[..path]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_database_keeps_the_server_and_the_options() {
        let cases = [
            (
                "postgres://u@127.0.0.1:5432/postgres",
                "postgres://u@127.0.0.1:5432/x",
            ),
            (
                "postgres://u:pw@127.0.0.1:5432",
                "postgres://u:pw@127.0.0.1:5432/x",
            ),
            (
                "postgresql://u:pw@127.0.0.1/db?sslmode=disable",
                "postgresql://u:pw@127.0.0.1/x?sslmode=disable",
            ),
        ];
        for (admin, want) in cases {
            assert_eq!(
                with_database(admin, "x").ok().as_deref(),
                Some(want),
                "{admin}"
            );
        }
        assert!(with_database("127.0.0.1:5432", "x").is_err());
    }

    #[test]
    fn the_password_is_found_for_scrubbing() {
        assert_eq!(password("postgres://u:s3cret@h:1/db"), Some("s3cret"));
        assert_eq!(password("postgres://u@h:1/db"), None);
        assert_eq!(password("postgres://u:@h:1/db"), None);
        assert_eq!(password("postgres://h:1/db"), None);
    }
}
