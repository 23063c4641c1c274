use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::{AnyConnection, Row};

use crate::{Error, Result, insert, upsert};

/// Which revisions of an order were applied: all up to `through`, plus
/// `above`. Ingest numbers an order's events 1, 2, 3, … without gaps, so the
/// set collapses into `through` as soon as the early ones' predecessors come.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Mark {
    through: i64,
    above: BTreeSet<i64>,
}

impl Mark {
    fn insert(&mut self, revision: i64) -> bool {
        if revision <= self.through || !self.above.insert(revision) {
            return false;
        }
        while self.above.remove(&(self.through + 1)) {
            self.through += 1;
        }
        true
    }

    fn above_text(&self) -> String {
        let parts: Vec<String> = self.above.iter().map(i64::to_string).collect();
        parts.join(",")
    }

    fn parse(order_id: &str, through: i64, above: &str) -> Result<Self> {
        let above = above
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse().map_err(|_| {
                    Error::Corrupt(format!("applied revisions of {order_id}: {above:?}"))
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { through, above })
    }
}

/// The applied revisions of the orders in one batch: read in the batch's
/// transaction, updated in memory, written back in the same transaction.
#[derive(Debug, Default)]
pub struct Applied {
    marks: HashMap<String, Mark>,
    /// The orders the table holds a row for.
    stored: HashSet<String>,
    changed: BTreeSet<String>,
}

impl Applied {
    /// Reads the rows of `order_ids`. An order left out must have no row:
    /// its first mark is inserted as new, and a row there fails the save.
    pub async fn load(conn: &mut AnyConnection, order_ids: &[&str]) -> Result<Self> {
        let head = "SELECT order_id, through, above FROM applied WHERE order_id IN (";
        let mut marks = HashMap::with_capacity(order_ids.len());
        let mut stored = HashSet::new();
        for sql in crate::in_lists(conn, head, order_ids) {
            for row in sql.query().fetch_all(&mut *conn).await? {
                let id: String = row.try_get("order_id")?;
                let mark = Mark::parse(
                    &id,
                    row.try_get("through")?,
                    &row.try_get::<String, _>("above")?,
                )?;
                stored.insert(id.clone());
                marks.insert(id, mark);
            }
        }
        Ok(Self {
            marks,
            stored,
            changed: BTreeSet::new(),
        })
    }

    /// The orders that get their first row when saved.
    pub fn new_orders(&self) -> impl Iterator<Item = &str> {
        (self.changed.iter())
            .filter(|id| !self.stored.contains(*id))
            .map(String::as_str)
    }

    /// Marks `(order_id, revision)` applied; false when it already was.
    pub fn insert(&mut self, order_id: &str, revision: i64) -> bool {
        let fresh = self
            .marks
            .entry(order_id.to_owned())
            .or_default()
            .insert(revision);
        if fresh {
            self.changed.insert(order_id.to_owned());
        }
        fresh
    }

    /// Writes the changed marks: new orders by a plain insert (half the cost
    /// of an upsert on PostgreSQL), the stored ones by an upsert.
    pub async fn save(&self, conn: &mut AnyConnection) -> Result<()> {
        let (mut new, mut known) = (Vec::new(), Vec::new());
        for id in &self.changed {
            let Some(m) = self.marks.get(id) else {
                continue;
            };
            let row = vec![id.as_str().into(), m.through.into(), m.above_text().into()];
            match self.stored.contains(id) {
                true => known.push(row),
                false => new.push(row),
            }
        }
        let (keys, values) = (["order_id"], ["through", "above"]);
        upsert(conn, "applied", &keys, &values, false, known).await?;
        insert(conn, "applied", &["order_id", "through", "above"], new).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_revisions_wait_above_the_watermark_then_collapse() {
        let mut m = Mark::default();
        assert!(m.insert(2));
        assert!(!m.insert(2));
        assert_eq!((m.through, m.above_text().as_str()), (0, "2"));
        assert!(m.insert(1));
        assert_eq!((m.through, m.above_text().as_str()), (2, ""));
        assert!(!m.insert(1));
        assert!(m.insert(4));
        let back = Mark::parse("o", m.through, &m.above_text()).unwrap();
        assert_eq!(back, m);
        assert!(Mark::parse("o", 0, "x").is_err());
    }
}
