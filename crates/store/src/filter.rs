use portrait_core::{Day, ResolvedFilter};
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
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.args.push(arg.into());
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    fn bind_list(&mut self, values: &[String]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v.as_str());
        }
        self
    }

    /// `(store_id IN (…) OR store_id IN (stores of the cities))`, or `1 = 1`.
    /// Needs the `stores` table in the same database.
    pub fn stores(&mut self, filter: &ResolvedFilter) -> &mut Self {
        match (filter.store_ids.is_empty(), filter.cities.is_empty()) {
            (true, true) => self.push("1 = 1"),
            (false, true) => self
                .push("store_id IN (")
                .bind_list(&filter.store_ids)
                .push(")"),
            (true, false) => self
                .push("store_id IN (SELECT store_id FROM stores WHERE city IN (")
                .bind_list(&filter.cities)
                .push("))"),
            (false, false) => self
                .push("(store_id IN (")
                .bind_list(&filter.store_ids)
                .push(") OR store_id IN (SELECT store_id FROM stores WHERE city IN (")
                .bind_list(&filter.cities)
                .push(")))"),
        }
    }

    /// `day >= from AND day < to` (from omitted when unbounded).
    pub fn days(&mut self, from: Option<Day>, to: Day) -> &mut Self {
        if let Some(from) = from {
            self.push("day >= ").bind(i64::from(from)).push(" AND ");
        }
        self.push("day < ").bind(i64::from(to))
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for arg in &self.args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }
}
