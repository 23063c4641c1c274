//! PostgreSQL: a batch's rows as one array per column, `INSERT … SELECT *
//! FROM unnest($1, $2, …)`, one statement whatever the row count. As
//! multi-row `VALUES` of 2,000 parameters a statement, PostgreSQL parsed,
//! planned and bound every chunk: hundreds of statements a batch. The `Any`
//! driver binds no arrays, so each column goes as the text of a PostgreSQL
//! array literal and is cast to its type.

use std::fmt::Write as _;

use sqlx::AnyConnection;

use crate::{Arg, Result};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Text,
}

/// The rows' columns, each as an array literal.
pub(super) struct Columns {
    kinds: Vec<Kind>,
    literals: Vec<String>,
}

impl Columns {
    /// `None` for no rows, or when a column holds both integers and texts:
    /// the `VALUES` path binds those as they come.
    pub(super) fn of(rows: &[Vec<Arg>], width: usize) -> Option<Self> {
        let first = rows.first()?;
        let kinds: Vec<Kind> = (first.iter())
            .map(|v| match v {
                Arg::Int(_) => Kind::Int,
                Arg::Text(_) => Kind::Text,
            })
            .collect();
        if kinds.len() != width {
            return None;
        }
        let mut literals = vec![String::from("{"); width];
        for (r, row) in rows.iter().enumerate() {
            if row.len() != width {
                return None;
            }
            for ((v, kind), literal) in row.iter().zip(&kinds).zip(&mut literals) {
                if r > 0 {
                    literal.push(',');
                }
                match (v, kind) {
                    // Writing to a String cannot fail.
                    (Arg::Int(n), Kind::Int) => {
                        let _ = write!(literal, "{n}");
                    }
                    (Arg::Text(t), Kind::Text) => quote(literal, t),
                    _ => return None,
                }
            }
        }
        for literal in &mut literals {
            literal.push('}');
        }
        Some(Self { kinds, literals })
    }

    /// `INSERT INTO table (columns) SELECT * FROM unnest(…) tail`.
    pub(super) async fn write(
        self,
        conn: &mut AnyConnection,
        table: &str,
        columns: &[&str],
        tail: &str,
    ) -> Result<()> {
        let mut text = format!(
            "INSERT INTO {table} ({}) SELECT * FROM unnest(",
            columns.join(", ")
        );
        for (i, kind) in self.kinds.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            crate::push_mark(&mut text, i + 1);
            text.push_str(match kind {
                Kind::Int => "::text::bigint[]",
                Kind::Text => "::text::text[]",
            });
        }
        text.push(')');
        text.push_str(tail);
        let mut query = sqlx::query(&text);
        for literal in self.literals {
            query = query.bind(literal);
        }
        query.execute(conn).await?;
        Ok(())
    }
}

/// An array element as a double-quoted string: only `"` and `\` are escaped.
fn quote(literal: &mut String, text: &str) {
    literal.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            literal.push('\\');
        }
        literal.push(c);
    }
    literal.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_quote_every_text_and_refuse_mixed_columns() {
        let rows = vec![
            vec![Arg::Int(-3), Arg::Text(r#"a "b" \c, {d}"#.into())],
            vec![Arg::Int(i64::MAX), Arg::Text("顾客 NULL".into())],
        ];
        let c = Columns::of(&rows, 2).expect("one kind a column");
        assert_eq!(c.literals[0], format!("{{-3,{}}}", i64::MAX));
        assert_eq!(c.literals[1], r#"{"a \"b\" \\c, {d}","顾客 NULL"}"#);
        let mixed = vec![vec![Arg::Int(1)], vec![Arg::Text("1".into())]];
        assert!(Columns::of(&mixed, 1).is_none());
        assert!(Columns::of(&[], 1).is_none());
        assert!(
            Columns::of(&rows, 3).is_none(),
            "rows narrower than the columns"
        );
    }
}
