/// Everything a service can fail with; mapped to a gRPC status in one place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Domain(#[from] portrait_core::Error),
    #[error(transparent)]
    Store(#[from] portrait_store::Error),
    #[error(transparent)]
    Bus(#[from] portrait_bus::Error),
    #[error("failed to serve gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("upstream {service} failed: {status}")]
    Upstream {
        service: &'static str,
        status: tonic::Status,
    },
    #[error("failed to bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("telemetry: {0}")]
    Telemetry(String),
    /// A request named something no accepted order has named.
    #[error("{field} {id:?} not found")]
    NotFound { field: &'static str, id: String },
    /// A page of an export whose generation has since been replaced.
    #[error("generation {0:?} is no longer served; start again")]
    Stale(String),
    /// The request needs something that has not been computed yet.
    #[error("{0}")]
    NotReady(String),
    /// A request would create what exists already (adopting a suggestion twice).
    #[error("{field} {id:?} already exists")]
    AlreadyExists { field: &'static str, id: String },
    /// The request does not fit the state of what it names (adopting a
    /// dismissed suggestion).
    #[error("{0}")]
    Conflict(String),
    /// Data this service wrote itself reads back wrong: a bug or a damaged store.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(portrait_store::Error::Sql(e))
    }
}

impl From<Error> for tonic::Status {
    /// The one place errors become statuses. A client can tell "your request
    /// is wrong" (INVALID_ARGUMENT) from "try again" (UNAVAILABLE) from "our
    /// bug" (INTERNAL); a database's or broker's own text never reaches it.
    fn from(err: Error) -> Self {
        match err {
            Error::Domain(portrait_core::Error::Invalid { field, reason }) => {
                crate::http_error::invalid(&field, reason)
            }
            Error::Domain(e) => tonic::Status::invalid_argument(e.to_string()),
            Error::Upstream { status, .. } => status,
            e @ Error::NotFound { .. } => tonic::Status::not_found(e.to_string()),
            e @ Error::AlreadyExists { .. } => tonic::Status::already_exists(e.to_string()),
            e @ (Error::Stale(_) | Error::NotReady(_) | Error::Conflict(_)) => {
                tonic::Status::failed_precondition(e.to_string())
            }
            Error::Store(e) if e.refusal().is_some() => {
                tracing::warn!(error = %e, "database refused a write");
                tonic::Status::unavailable(refusal_text(e.refusal()))
            }
            Error::Store(e) if e.is_unreachable() => {
                tracing::warn!(error = %e, "database unreachable");
                tonic::Status::unavailable("the service's database is unreachable")
            }
            Error::Bus(e) => {
                tracing::warn!(error = %e, "event log failed");
                tonic::Status::unavailable("the event log is unreachable")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                tonic::Status::internal("internal error; the service's log has the details")
            }
        }
    }
}

/// The HTTP status of a gRPC code on the JSON API: the one table, the mapping
/// of `google.rpc.Code` (and of grpc-gateway), so a client of either API reads
/// a failure the same way.
pub fn http_status(code: tonic::Code) -> http::StatusCode {
    use http::StatusCode as H;
    use tonic::Code as C;
    match code {
        C::Ok => H::OK,
        // 499 "client closed request" has no constant; it is always valid.
        C::Cancelled => H::from_u16(499).unwrap_or(H::BAD_REQUEST),
        C::Unknown | C::Internal | C::DataLoss => H::INTERNAL_SERVER_ERROR,
        C::InvalidArgument | C::FailedPrecondition | C::OutOfRange => H::BAD_REQUEST,
        C::DeadlineExceeded => H::GATEWAY_TIMEOUT,
        C::NotFound => H::NOT_FOUND,
        C::AlreadyExists | C::Aborted => H::CONFLICT,
        C::PermissionDenied => H::FORBIDDEN,
        C::Unauthenticated => H::UNAUTHORIZED,
        C::ResourceExhausted => H::TOO_MANY_REQUESTS,
        C::Unimplemented => H::NOT_IMPLEMENTED,
        C::Unavailable => H::SERVICE_UNAVAILABLE,
    }
}

/// What a client and the status are told of a refused write, without the driver's words.
pub(crate) fn refusal_text(refusal: Option<portrait_store::Refusal>) -> &'static str {
    match refusal {
        Some(portrait_store::Refusal::Full) => "the service's database is out of disk space",
        Some(portrait_store::Refusal::ReadOnly) => "the service's database is read-only",
        None => "the service's database refused the write",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's own errors, provoked: a store over its size (the disk full) and a read-only
    /// one are UNAVAILABLE saying which, and a full store takes writes again once it has room.
    #[tokio::test]
    async fn a_full_or_read_only_store_says_so_and_a_full_one_resumes() {
        use sqlx::Connection;
        use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("full.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut db = SqliteConnection::connect_with(&options)
            .await
            .expect("open");
        sqlx::query("CREATE TABLE t (v BLOB)")
            .execute(&mut db)
            .await
            .expect("table");
        sqlx::query("PRAGMA max_page_count = 8")
            .execute(&mut db)
            .await
            .expect("quota");
        let insert = "INSERT INTO t VALUES (zeroblob(2000))";
        let mut written = 0;
        let full = loop {
            match sqlx::query(insert).execute(&mut db).await {
                Ok(_) => written += 1,
                Err(e) => break Error::Store(portrait_store::Error::Sql(e)),
            }
            assert!(written < 1_000, "the quota never bit");
        };
        let status = tonic::Status::from(full);
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.message(),
            "the service's database is out of disk space"
        );
        sqlx::query("PRAGMA max_page_count = 100000")
            .execute(&mut db)
            .await
            .expect("room");
        sqlx::query(insert)
            .execute(&mut db)
            .await
            .expect("writes resume");
        let (rows, check): (i64, String) = (
            sqlx::query_scalar("SELECT COUNT(*) FROM t")
                .fetch_one(&mut db)
                .await
                .expect("count"),
            sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut db)
                .await
                .expect("check"),
        );
        assert_eq!((rows, check.as_str()), (written + 1, "ok"));
        db.close().await.expect("close");

        let read_only = options.read_only(true);
        let mut db = SqliteConnection::connect_with(&read_only)
            .await
            .expect("open");
        let refused = sqlx::query(insert)
            .execute(&mut db)
            .await
            .expect_err("read-only");
        let status = tonic::Status::from(Error::Store(portrait_store::Error::Sql(refused)));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(status.message(), "the service's database is read-only");
    }

    #[test]
    fn codes_are_deliberate_and_driver_text_stays_inside() {
        let status = |e: Error| tonic::Status::from(e);
        let down = status(Error::Store(portrait_store::Error::Sql(
            sqlx::Error::PoolTimedOut,
        )));
        assert_eq!(down.code(), tonic::Code::Unavailable);
        assert_eq!(down.message(), "the service's database is unreachable");
        let bug = status(Error::Store(portrait_store::Error::Sql(
            sqlx::Error::ColumnNotFound("secret_column".into()),
        )));
        assert_eq!(bug.code(), tonic::Code::Internal);
        assert!(
            !bug.message().contains("secret_column"),
            "{}",
            bug.message()
        );
        let bad = status(Error::Domain(portrait_core::Error::invalid(
            "filter.from_date",
            "not a date",
        )));
        assert_eq!(bad.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            bad.metadata()
                .get("x-invalid-field")
                .map(|v| v.to_str().ok()),
            Some(Some("filter.from_date"))
        );
        let corrupt = status(Error::Corrupt("row 7 of orders".into()));
        for (code, http) in [
            (tonic::Code::InvalidArgument, 400),
            (tonic::Code::NotFound, 404),
            (tonic::Code::Unavailable, 503),
            (tonic::Code::Internal, 500),
            (tonic::Code::FailedPrecondition, 400),
            (tonic::Code::Cancelled, 499),
        ] {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
        assert_eq!(corrupt.code(), tonic::Code::Internal);
        assert!(!corrupt.message().contains("row 7"));
    }
}
