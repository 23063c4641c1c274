//! The refund rate's counts: per store and day, paid and refunded orders
//! (`RefundDays`), written with each batch to `refund_days` and kept in
//! memory as two integers per store-day.

use portrait_core::memory::nested_bytes;
use portrait_core::{Day, RefundAcc, RefundDays};
use portrait_service::Result;
use portrait_store::{Key, scan, upsert};
use sqlx::{AnyConnection, AnyPool};

use super::State;

/// Per dense store id, its days sorted, each with its counts.
#[derive(Debug, Default)]
pub(crate) struct RefundBook {
    stores: Vec<Vec<(Day, RefundAcc)>>,
}

impl RefundBook {
    pub(crate) fn add(&mut self, store: u32, day: Day, by: RefundAcc) {
        let i = store as usize;
        if self.stores.len() <= i {
            self.stores.resize_with(i + 1, Vec::new);
        }
        let days = &mut self.stores[i];
        match days.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(at) => days[at].1.add(by),
            Err(at) => days.insert(at, (day, by)),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        nested_bytes(&self.stores)
    }

    /// The store's days with counts, by day.
    pub(crate) fn days(&self, store: u32) -> &[(Day, RefundAcc)] {
        self.stores.get(store as usize).map_or(&[], Vec::as_slice)
    }
}

pub(super) fn apply(state: &mut State, d: &RefundDays) {
    for ((store, day), by) in &d.rows {
        let s = state.customers.stores.id(store);
        state.refunds.add(s, *day, *by);
    }
}

pub(super) async fn write(conn: &mut AnyConnection, d: &RefundDays) -> Result<()> {
    let mut rows: Vec<_> = d.rows.iter().collect();
    rows.sort_unstable_by(|((s, a), _), ((t, b), _)| (a, s).cmp(&(b, t)));
    let rows = (rows.into_iter())
        .map(|((store, day), a)| {
            vec![
                i64::from(*day).into(),
                store.as_str().into(),
                a.paid.into(),
                a.refunded.into(),
            ]
        })
        .collect();
    let (keys, values) = (["day", "store_id"], ["paid", "refunded"]);
    Ok(upsert(conn, "refund_days", &keys, &values, true, rows).await?)
}

pub(super) async fn load(pool: &AnyPool, state: &mut State) -> Result<()> {
    let (stores, refunds) = (&mut state.customers.stores, &mut state.refunds);
    let keys = [Key::Int("day"), Key::Text("store_id")];
    let columns = ["day", "store_id", "paid", "refunded"];
    scan(pool, "refund_days", &keys, &columns, |r| {
        let by = RefundAcc {
            paid: r.int("paid")?,
            refunded: r.int("refunded")?,
        };
        let day = portrait_store::day(r.int("day")?)?;
        refunds.add(stores.id(r.text("store_id")?), day, by);
        Ok(())
    })
    .await?;
    Ok(())
}
