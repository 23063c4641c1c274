//! A SQLite scan's page, a JSON array of rows, read into one flat list of
//! cells that borrow their text from the page wherever JSON needs no
//! unescaping. As `serde_json::Value`s every row was a vector and every text
//! an owned string: four allocations a row of `customer_orders`, and with
//! them most of the parse.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};

/// One value of a row.
#[derive(Debug, PartialEq)]
pub(super) enum Cell<'t> {
    Int(i64),
    Text(Cow<'t, str>),
    /// A null, a float, a boolean or an integer past 64 bits: never one of a
    /// scanned column's values, so reading it says the column is corrupt.
    Other,
}

/// The rows of `text`, each `width` cells, in one list; an error names the
/// first malformed place.
pub(super) fn parse(text: &str, width: usize) -> Result<Vec<Cell<'_>>, serde_json::Error> {
    let mut cells = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_seq(Rows {
        cells: &mut cells,
        width,
    })?;
    de.end()?;
    Ok(cells)
}

struct Rows<'v, 't> {
    cells: &'v mut Vec<Cell<'t>>,
    width: usize,
}

impl<'t> Visitor<'t> for Rows<'_, 't> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'t>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(rows) = seq.size_hint() {
            self.cells.reserve(rows.saturating_mul(self.width));
        }
        let width = self.width;
        while seq
            .next_element_seed(Row {
                cells: &mut *self.cells,
                width,
            })?
            .is_some()
        {}
        Ok(())
    }
}

struct Row<'v, 't> {
    cells: &'v mut Vec<Cell<'t>>,
    width: usize,
}

impl<'t> DeserializeSeed<'t> for Row<'_, 't> {
    type Value = ();

    fn deserialize<D: Deserializer<'t>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'t> Visitor<'t> for Row<'_, 't> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a row of {} values", self.width)
    }

    fn visit_seq<A: SeqAccess<'t>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(cell) = seq.next_element_seed(CellSeed)? {
            self.cells.push(cell);
            n += 1;
        }
        if n != self.width {
            return Err(A::Error::custom(format!(
                "a row has {n} values, not {}",
                self.width
            )));
        }
        Ok(())
    }
}

impl<'t> DeserializeSeed<'t> for CellSeed {
    type Value = Cell<'t>;

    fn deserialize<D: Deserializer<'t>>(self, d: D) -> Result<Cell<'t>, D::Error> {
        d.deserialize_any(self)
    }
}

struct CellSeed;

impl<'t> Visitor<'t> for CellSeed {
    type Value = Cell<'t>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a text")
    }

    fn visit_i64<E>(self, v: i64) -> Result<Cell<'t>, E> {
        Ok(Cell::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Cell<'t>, E> {
        Ok(i64::try_from(v).map_or(Cell::Other, Cell::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Cell<'t>, E> {
        Ok(Cell::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Cell<'t>, E> {
        Ok(Cell::Other)
    }

    fn visit_unit<E>(self) -> Result<Cell<'t>, E> {
        Ok(Cell::Other)
    }

    fn visit_borrowed_str<E>(self, v: &'t str) -> Result<Cell<'t>, E> {
        Ok(Cell::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cell<'t>, E> {
        Ok(Cell::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Cell<'t>, E> {
        Ok(Cell::Text(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_borrow_unless_escaped_and_rows_must_be_whole() {
        let text =
            r#"[[1,"a\"b",-7],[9223372036854775807,"顾客",null],[18446744073709551615,"x",1.5]]"#;
        let cells = parse(text, 3).expect("parsed");
        assert_eq!(cells.len(), 9);
        assert_eq!(cells[0], Cell::Int(1));
        assert!(matches!(&cells[1], Cell::Text(Cow::Owned(s)) if s == "a\"b"));
        assert_eq!(cells[2], Cell::Int(-7));
        assert_eq!(cells[3], Cell::Int(i64::MAX));
        assert!(matches!(&cells[4], Cell::Text(Cow::Borrowed("顾客"))));
        assert_eq!(cells[5], Cell::Other);
        assert_eq!(cells[6], Cell::Other);
        assert_eq!(cells[8], Cell::Other);
        assert!(parse("[]", 3).expect("empty").is_empty());
        let short = parse(r#"[[1,"a",2],[1,"a"]]"#, 3).expect_err("short");
        assert!(short.to_string().contains("2 values, not 3"), "{short}");
        assert!(parse(r#"[[1,"a",2]] x"#, 3).is_err(), "trailing text");
        assert!(parse(r#"{"a":1}"#, 3).is_err(), "not an array");
    }
}
