use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

/// A bind value; portable SQL only needs these two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Int(i64),
    Text(String),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_owned())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}

/// SQL text with `$n` placeholders numbered as they are appended, so the same
/// text runs on SQLite and PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
    anonymous: bool,
    once: bool,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
            anonymous: false,
            once: false,
        }
    }

    /// Not kept in the connection's statement cache: a bulk statement whose
    /// text will not come again (a batch's last, partial chunk) would hold
    /// its compiled program, hundreds of kilobytes, until evicted.
    pub fn once(mut self, once: bool) -> Self {
        self.once = once;
        self
    }

    /// For statements with many parameters: on SQLite the marks are anonymous
    /// `?`s, bound by position. sqlx binds every named mark by asking SQLite
    /// for its name, a linear search, so n named marks cost n² (45 % of the
    /// consumers' CPU once); `$n` stays for PostgreSQL.
    pub fn for_conn(conn: &sqlx::AnyConnection, text: &str) -> Self {
        Self {
            anonymous: crate::is_sqlite(conn),
            ..Self::new(text)
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        if self.anonymous {
            self.text.push('?');
        } else {
            push_mark(&mut self.text, self.args.len());
        }
        self
    }

    /// ` AND column IN (…)` with one bound value each; `values` must not be
    /// empty (an empty `IN ()` is not SQL).
    pub fn and_in(&mut self, column: &str, values: &[String]) -> &mut Self {
        self.push(&format!(" AND {column} IN ("));
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v.as_str());
        }
        self.push(")")
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text).persistent(!self.once);
        for arg in &self.args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }
}

/// A bulk look-up by key: `head` (ending in `IN (`) completed with `ids`,
/// sorted and deduplicated, at most [`crate::PARAMS_PER_STATEMENT`] a statement.
pub fn in_lists(conn: &sqlx::AnyConnection, head: &str, ids: &[&str]) -> Vec<Sql> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.chunks(crate::PARAMS_PER_STATEMENT)
        .map(|chunk| {
            let mut sql = Sql::for_conn(conn, head).once(chunk.len() < crate::PARAMS_PER_STATEMENT);
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(*id);
            }
            sql.push(")");
            sql
        })
        .collect()
}

/// Appends `$n`. A bulk statement has up to 2,000 marks, and `format!` for
/// each (an allocation and the formatting machinery) was 8 % of the
/// profiler's CPU while it caught up.
pub fn push_mark(text: &mut String, n: usize) {
    let mut digits = [0_u8; 20];
    let (mut i, mut n) = (digits.len(), n);
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    text.push('$');
    for d in &digits[i..] {
        text.push(char::from(*d));
    }
}

#[cfg(test)]
mod tests {
    use super::push_mark;

    #[test]
    fn marks_read_as_format_writes_them() {
        for n in [0, 1, 9, 10, 99, 100, 1999, 2000, 65_535, usize::MAX] {
            let mut text = String::from("x = ");
            push_mark(&mut text, n);
            assert_eq!(text, format!("x = ${n}"));
        }
    }
}
