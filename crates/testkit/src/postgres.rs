//! The PostgreSQL server that `tests/run` starts on loopback; a fresh database per use.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

/// Creates an empty database and returns its URL; `None` when no test
/// PostgreSQL is configured (the caller skips).
pub async fn fresh_database() -> Option<String> {
    let admin = crate::server_env("PORTRAIT_TEST_PG_URL", "PostgreSQL")?;
    Some(fresh_database_on(&admin).await)
}

/// Creates an empty database on the server of `admin` (a URL of a database
/// there) and returns its URL.
pub async fn fresh_database_on(admin: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "portrait_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
    conn.execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot drop {name}: {e}"));
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create {name}: {e}"));
    let (base, _) = admin
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("the PostgreSQL URL {admin} has no database part"));
    format!("{base}/{name}")
}
