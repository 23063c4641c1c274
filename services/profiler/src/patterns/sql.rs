//! Grouped SQL over the customer portrait's tables for answers about groups
//! of customers: the filter pushed into the WHERE, the rows streamed.

use futures::TryStreamExt;
use portrait_core::Day;
use portrait_service::Result;
use portrait_store::{Sql, Store};
use sqlx::any::AnyRow;

/// Rows handed to the caller at a time: the caller takes the state's lock
/// once per chunk to name each row's customer.
const CHUNK: usize = 8_192;

/// Which rows of a portrait table an answer reads: the selected stores
/// (`None` = all) and the days before `to`, from `from` when `inside`.
pub(crate) struct Scope {
    pub(crate) stores: Option<Vec<String>>,
    pub(crate) from: Option<Day>,
    pub(crate) to: Day,
}

impl Scope {
    /// `WHERE orders > 0 AND day < to [AND day >= from] [AND store_id IN …]`.
    pub(crate) fn push_where(&self, sql: &mut Sql, with_from: bool) {
        sql.push(" WHERE orders > 0 AND day < ")
            .bind(i64::from(self.to));
        if let (true, Some(from)) = (with_from, self.from) {
            sql.push(" AND day >= ").bind(i64::from(from));
        }
        if let Some(stores) = &self.stores {
            sql.push(" AND store_id IN (");
            for (i, s) in stores.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(s.as_str());
            }
            sql.push(")");
        }
    }

    /// No store selected: nothing to read.
    pub(crate) fn is_empty(&self) -> bool {
        self.stores.as_ref().is_some_and(Vec::is_empty)
    }
}

/// Runs the statement `build` makes and hands its rows, parsed, to `each`
/// `CHUNK` at a time: the rows of a whole chain never sit in memory at once.
pub(crate) async fn stream<T>(
    store: &Store,
    build: impl FnOnce(&sqlx::AnyConnection) -> Sql,
    parse: impl Fn(&AnyRow) -> Result<T, sqlx::Error>,
    mut each: impl FnMut(&mut Vec<T>),
) -> Result<()> {
    let mut conn = store.acquire().await?;
    let sql = build(&conn);
    let mut rows = sql.query().fetch(&mut *conn);
    let mut chunk = Vec::with_capacity(CHUNK);
    while let Some(row) = rows.try_next().await? {
        chunk.push(parse(&row)?);
        if chunk.len() == CHUNK {
            each(&mut chunk);
            chunk.clear();
        }
    }
    each(&mut chunk);
    Ok(())
}
