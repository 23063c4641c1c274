use std::collections::{BTreeSet, HashMap};

use sqlx::{AnyConnection, Row};

use crate::{Error, Result, upsert};

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
    changed: BTreeSet<String>,
}

impl Applied {
    pub async fn load(conn: &mut AnyConnection, order_ids: &[&str]) -> Result<Self> {
        let head = "SELECT order_id, through, above FROM applied WHERE order_id IN (";
        let mut marks = HashMap::with_capacity(order_ids.len());
        for sql in crate::in_lists(conn, head, order_ids) {
            for row in sql.query().fetch_all(&mut *conn).await? {
                let id: String = row.try_get("order_id")?;
                let mark = Mark::parse(
                    &id,
                    row.try_get("through")?,
                    &row.try_get::<String, _>("above")?,
                )?;
                marks.insert(id, mark);
            }
        }
        Ok(Self {
            marks,
            changed: BTreeSet::new(),
        })
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

    pub async fn save(&self, conn: &mut AnyConnection) -> Result<()> {
        let rows = self
            .changed
            .iter()
            .filter_map(|id| {
                let m = self.marks.get(id)?;
                Some(vec![
                    id.as_str().into(),
                    m.through.into(),
                    m.above_text().into(),
                ])
            })
            .collect();
        upsert(
            conn,
            "applied",
            &["order_id"],
            &["through", "above"],
            false,
            rows,
        )
        .await
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
