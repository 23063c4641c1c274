//! A scan whose rows are applied on a thread of their own. A load is three
//! streams of work: the database's, reading the rows, and adding them to
//! the serving state. On one thread the last two kept one core busy while
//! the other stood a third idle; split, the reading task turns the row into
//! what the state takes, and a blocking thread, which owns the state
//! meanwhile, adds it.

use crate::scan::{Key, ScanRow, scan};
use crate::{Error, Result};
use sqlx::AnyPool;

/// Rows sent to the applier at once.
const ROWS: usize = 8_192;
/// Batches the reader may run ahead of the applier.
const AHEAD: usize = 4;

/// Rows on their way to the applier, each naming its customer (or other
/// key) by an index into `names`: a run of rows with one name holds it once.
#[derive(Debug)]
pub struct Named<R> {
    text: String,
    /// Where each name ends in `text`; it starts where the one before ends.
    ends: Vec<usize>,
    rows: Vec<(u32, R)>,
}

impl<R> Named<R> {
    fn with_room() -> Self {
        Self {
            text: String::new(),
            ends: Vec::new(),
            rows: Vec::with_capacity(ROWS),
        }
    }

    fn name(&self, i: usize) -> &str {
        let start = (i.checked_sub(1))
            .and_then(|j| self.ends.get(j).copied())
            .unwrap_or(0);
        self.ends
            .get(i)
            .and_then(|&end| self.text.get(start..end))
            .unwrap_or("")
    }

    /// Adds a row named `name`.
    pub fn push(&mut self, name: &str, row: R) {
        let last = self.ends.len().checked_sub(1);
        if last.is_none_or(|i| self.name(i) != name) {
            self.text.push_str(name);
            self.ends.push(self.text.len());
        }
        let at = u32::try_from(self.ends.len() - 1).unwrap_or(u32::MAX);
        self.rows.push((at, row));
    }

    /// The batch's distinct runs' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.name(i))
    }

    /// Each row with its name's index in [`Named::names`].
    pub fn rows(&self) -> &[(u32, R)] {
        &self.rows
    }

    /// The name of a row's index.
    pub fn name_of(&self, at: u32) -> &str {
        self.name(at as usize)
    }
}

/// Scans `table` as [`scan`] does: `read` turns each row into what `apply`
/// takes (pushing it into the batch), and `apply` adds each batch to `state`
/// on a blocking thread. Returns the state once every row is applied. A
/// panic in `apply` is raised here.
pub async fn scan_apart<S, R>(
    pool: &AnyPool,
    table: &str,
    keys: &[Key],
    columns: &[&str],
    state: S,
    mut read: impl FnMut(&ScanRow<'_>, &mut Named<R>) -> Result<()> + Send,
    mut apply: impl FnMut(&mut S, &Named<R>) + Send + 'static,
) -> Result<S>
where
    S: Send + 'static,
    R: Send + 'static,
{
    let (send, batches) = std::sync::mpsc::sync_channel::<Named<R>>(AHEAD);
    let applier = tokio::task::spawn_blocking(move || {
        let mut state = state;
        for batch in batches {
            apply(&mut state, &batch);
        }
        state
    });
    let mut batch = Named::with_room();
    let scanned = scan(pool, table, keys, columns, |r| {
        read(r, &mut batch)?;
        if batch.rows.len() >= ROWS {
            // Blocks this task only while the applier, a thread of its own,
            // is `AHEAD` batches behind. It hangs up only by panicking,
            // which is raised below once the scan has stopped.
            let full = std::mem::replace(&mut batch, Named::with_room());
            send.send(full)
                .map_err(|_| Error::Stopped(format!("the applier of {table}")))?;
        }
        Ok(())
    })
    .await;
    if scanned.is_ok() && !batch.rows.is_empty() {
        // A failed send is the applier's panic, raised just below.
        let _ = send.send(batch);
    }
    drop(send);
    let state = match applier.await {
        Ok(state) => state,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => return Err(Error::Stopped(format!("the applier of {table}: {e}"))),
    };
    scanned?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_one_name_hold_it_once() {
        let mut b = Named::with_room();
        for (name, n) in [("a", 1), ("a", 2), ("bb", 3), ("", 4), ("", 5), ("a", 6)] {
            b.push(name, n);
        }
        assert_eq!(b.names().collect::<Vec<_>>(), ["a", "bb", "", "a"]);
        let named: Vec<(&str, i32)> = b.rows().iter().map(|&(at, n)| (b.name_of(at), n)).collect();
        assert_eq!(
            named,
            [("a", 1), ("a", 2), ("bb", 3), ("", 4), ("", 5), ("a", 6)]
        );
    }
}
