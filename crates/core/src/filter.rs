use portrait_proto::v1::Filter;

use crate::{Calendar, Day, Error, Result};

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// A validated filter in day numbers. `to` is exclusive and never past `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResolvedFilter {
    pub store_ids: Vec<String>,
    pub cities: Vec<String>,
    pub from: Option<Day>,
    pub to: Day,
    pub as_of: Day,
}

impl ResolvedFilter {
    pub fn resolve(filter: Option<&Filter>, today: Day) -> Result<Self> {
        let default = Filter::default();
        let f = filter.unwrap_or(&default);
        let day = |field: &str, text: &str| -> Result<Option<Day>> {
            if text.is_empty() {
                Ok(None)
            } else {
                Calendar::parse_day(field, text).map(Some)
            }
        };
        let as_of = day("filter.as_of_date", &f.as_of_date)?.unwrap_or(today);
        let from = day("filter.from_date", &f.from_date)?;
        let to = day("filter.to_date", &f.to_date)?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(Error::invalid(
                "filter.to_date",
                "must be after filter.from_date",
            ));
        }
        Ok(Self {
            store_ids: names("filter.store_ids", &f.store_ids)?,
            cities: names("filter.cities", &f.cities)?,
            from,
            to: to.map_or(as_of + 1, |t| t.min(as_of + 1)),
            as_of,
        })
    }

    /// The filter as answers state it: the request's, its dates resolved.
    pub fn applied(&self) -> Filter {
        Filter {
            store_ids: self.store_ids.clone(),
            cities: self.cities.clone(),
            from_date: self.from.map(Calendar::format_day).unwrap_or_default(),
            to_date: Calendar::format_day(self.to),
            as_of_date: Calendar::format_day(self.as_of),
        }
    }

    pub fn all_stores(&self) -> bool {
        self.store_ids.is_empty() && self.cities.is_empty()
    }
}

fn names(field: &str, values: &[String]) -> Result<Vec<String>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.trim();
            if v.is_empty() {
                Err(Error::invalid(format!("{field}[{i}]"), "must not be empty"))
            } else {
                Ok(v.to_owned())
            }
        })
        .collect()
}

/// Page size from a request: 0 means the default; the error names `field`.
pub fn page_size(field: &str, requested: i32) -> Result<usize> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 || n as usize > MAX_PAGE_SIZE => Err(Error::invalid(
            field,
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
        n => Ok(n as usize),
    }
}

/// Page tokens are offsets into the ordered result; opaque to callers.
pub fn page_start(token: &str) -> Result<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .parse()
        .map_err(|_| Error::invalid("page_token", "not a token this service issued"))
}

/// The token of the page after one that ended at `next` of `total`; empty
/// on the last page.
pub fn next_page_token(next: usize, total: usize) -> String {
    if next < total {
        next.to_string()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_caps() {
        let today = Calendar::parse_day("x", "2025-06-01").unwrap();
        let r = ResolvedFilter::resolve(None, today).unwrap();
        assert_eq!((r.from, r.to, r.as_of), (None, today + 1, today));
        let f = Filter {
            from_date: "2025-01-01".into(),
            to_date: "2025-12-31".into(),
            as_of_date: "2025-03-01".into(),
            cities: vec![" 上海 ".into()],
            ..Default::default()
        };
        let r = ResolvedFilter::resolve(Some(&f), today).unwrap();
        assert_eq!(r.to, Calendar::parse_day("x", "2025-03-02").unwrap());
        assert_eq!(r.cities, ["上海"]);
    }

    #[test]
    fn errors_name_the_field() {
        let bad = |f: Filter| {
            ResolvedFilter::resolve(Some(&f), 0)
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad(Filter {
                from_date: "yesterday".into(),
                ..Default::default()
            })
            .contains("filter.from_date")
        );
        assert!(
            bad(Filter {
                from_date: "2025-02-01".into(),
                to_date: "2025-01-01".into(),
                ..Default::default()
            })
            .contains("filter.to_date")
        );
        assert!(
            bad(Filter {
                store_ids: vec!["".into()],
                ..Default::default()
            })
            .contains("filter.store_ids[0]")
        );
        assert!(page_size("page_size", 5000).is_err());
        assert_eq!(page_size("page_size", 0), Ok(DEFAULT_PAGE_SIZE));
    }
}
