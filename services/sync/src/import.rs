//! `portrait import FILE.csv|FILE.jsonl`: exports of the source, one row per
//! order line, with the columns of docs/sync.md. The rows become the same
//! `SourceOrder`s the database reader produces, so one mapping applies.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::job::Reader;
use crate::map::{Shop, Shops, SourceLine, SourceOrder};
use crate::{Error, Result};

pub const COLUMNS: [&str; 26] = [
    "order_id",
    "open_id",
    "vip_id",
    "vip_tel",
    "shop_id",
    "shop_name",
    "shop_city",
    "record_time",
    "total",
    "cash",
    "pay_state",
    "refund_money",
    "delflag",
    "takeout_name",
    "line_id",
    "goods_id",
    "goods_name",
    "category_id",
    "category_name",
    "goods_number",
    "goods_price",
    "goods_total",
    "real_income",
    "is_refund",
    "line_refund_money",
    "line_delflag",
];

/// Order-level columns (the first 14): every row of one order must agree on them.
const ORDER_COLUMNS: &[&str] = COLUMNS.split_at(14).0;

type Row = HashMap<String, Option<String>>;

pub fn read_file(path: &Path) -> Result<Reader> {
    let (orders, shops) = read_export(path)?;
    Ok(Reader::File { orders, shops })
}

/// The file's orders in id order (rows grouped by `order_id`), and the stores
/// it names with a city.
pub fn read_export(path: &Path) -> Result<(Vec<SourceOrder>, Shops)> {
    let name = path.display().to_string();
    let fail = |message: String| Error::Import {
        path: name.clone(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let rows = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => csv_rows(&text).map_err(fail)?,
        Some("jsonl") | Some("ndjson") => jsonl_rows(&text).map_err(fail)?,
        _ => return Err(fail("the file must end in .csv or .jsonl".into())),
    };
    orders(rows).map_err(fail)
}

fn csv_rows(text: &str) -> Result<Vec<(usize, Row)>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("header: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    check_headers(&headers)?;
    reader
        .records()
        .enumerate()
        .map(|(i, r)| {
            let r = r.map_err(|e| format!("line {}: {e}", i + 2))?;
            let row = headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.clone(), (!v.is_empty()).then(|| v.to_owned())))
                .collect();
            Ok((i + 2, row))
        })
        .collect()
}

fn jsonl_rows(text: &str) -> Result<Vec<(usize, Row)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let object = value
            .as_object()
            .ok_or_else(|| format!("line {}: not a JSON object", i + 1))?;
        let headers: Vec<String> = object.keys().cloned().collect();
        check_headers(&headers).map_err(|e| format!("line {}: {e}", i + 1))?;
        let row = object
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                (k.clone(), v)
            })
            .collect();
        out.push((i + 1, row));
    }
    Ok(out)
}

fn check_headers(headers: &[String]) -> Result<(), String> {
    if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(&h.as_str())) {
        return Err(format!(
            "unknown column {unknown:?} (docs/sync.md lists the columns)"
        ));
    }
    if !headers.iter().any(|h| h == "order_id") {
        return Err("the column order_id is required".into());
    }
    Ok(())
}

fn get<'a>(row: &'a Row, column: &str) -> Option<&'a str> {
    row.get(column).and_then(|v| v.as_deref())
}

fn int(row: &Row, column: &str, problems: &mut Vec<String>) -> Option<i64> {
    let v = get(row, column)?;
    match v.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            problems.push(format!("{column} = {v:?} is not an integer"));
            None
        }
    }
}

fn text(row: &Row, column: &str) -> Option<String> {
    get(row, column).map(str::to_owned)
}

fn orders(rows: Vec<(usize, Row)>) -> Result<(Vec<SourceOrder>, Shops), String> {
    let mut by_id: BTreeMap<i64, (SourceOrder, Vec<Option<String>>)> = BTreeMap::new();
    let mut shops = Shops::new();
    for (line_no, row) in rows {
        let id = get(&row, "order_id")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                format!(
                    "line {line_no}: order_id {:?} is not an integer",
                    get(&row, "order_id")
                )
            })?;
        let mut problems = Vec::new();
        let order_fields: Vec<Option<String>> =
            ORDER_COLUMNS.iter().map(|c| text(&row, c)).collect();
        let entry = by_id.entry(id).or_insert_with(|| {
            let order = SourceOrder {
                id,
                open_id: text(&row, "open_id"),
                vip_id: int(&row, "vip_id", &mut problems),
                vip_tel: text(&row, "vip_tel"),
                shop_id: int(&row, "shop_id", &mut problems),
                shop_name: text(&row, "shop_name"),
                record_time: text(&row, "record_time"),
                total: text(&row, "total"),
                cash: text(&row, "cash"),
                pay_state: int(&row, "pay_state", &mut problems),
                refund_money: text(&row, "refund_money"),
                delflag: int(&row, "delflag", &mut problems),
                takeout_name: text(&row, "takeout_name"),
                lines: Vec::new(),
                import_error: None,
            };
            (order, order_fields.clone())
        });
        if entry.1 != order_fields {
            problems.push("its rows disagree on the order's columns".into());
        }
        if let Some(shop_id) = entry.0.shop_id
            && let Some(city) = text(&row, "shop_city")
        {
            shops.insert(
                shop_id,
                Shop {
                    name: text(&row, "shop_name"),
                    city: Some(city),
                },
            );
        }
        if let Some(line_id) = int(&row, "line_id", &mut problems) {
            let line = SourceLine {
                id: line_id,
                goods_id: int(&row, "goods_id", &mut problems),
                goods_name: text(&row, "goods_name"),
                category_id: int(&row, "category_id", &mut problems),
                category_name: text(&row, "category_name"),
                goods_number: int(&row, "goods_number", &mut problems),
                goods_price: text(&row, "goods_price"),
                goods_total: text(&row, "goods_total"),
                real_income: text(&row, "real_income"),
                is_refund: int(&row, "is_refund", &mut problems),
                refund_money: text(&row, "line_refund_money"),
                delflag: int(&row, "line_delflag", &mut problems),
            };
            entry.0.lines.push(line);
        }
        if !problems.is_empty() && entry.0.import_error.is_none() {
            entry.0.import_error = Some(format!("line {line_no}: {}", problems.join("; ")));
        }
    }
    Ok((by_id.into_values().map(|(o, _)| o).collect(), shops))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        (dir, path)
    }

    fn read(name: &str, body: &str) -> (Vec<SourceOrder>, Shops) {
        let (_dir, path) = file(name, body);
        match read_file(&path).unwrap() {
            Reader::File { orders, shops } => (orders, shops),
            Reader::Db(_) => unreachable!(),
        }
    }

    #[test]
    fn csv_rows_group_into_orders_with_their_lines() {
        let (orders, shops) = read(
            "x.csv",
            "order_id,shop_id,shop_name,shop_city,record_time,cash,pay_state,line_id,goods_id,goods_number,goods_total\n\
             7,3,静安店,上海市,2025-03-05 12:00:00,30.00,2,71,11,1,10.00\n\
             5,4,徐汇店,,2025/3/5 12:00:00,5,2,51,12,1,5\n\
             7,3,静安店,上海市,2025-03-05 12:00:00,30.00,2,72,12,2,20.00\n",
        );
        assert_eq!(orders.iter().map(|o| o.id).collect::<Vec<_>>(), vec![5, 7]);
        assert_eq!(
            orders[1].lines.iter().map(|l| l.id).collect::<Vec<_>>(),
            vec![71, 72]
        );
        assert_eq!(orders[1].cash.as_deref(), Some("30.00"));
        assert_eq!(orders[0].open_id, None, "a missing column is NULL");
        assert!(orders.iter().all(|o| o.import_error.is_none()));
        assert_eq!(
            shops.get(&3).and_then(|s| s.city.as_deref()),
            Some("上海市")
        );
        assert!(!shops.contains_key(&4), "no city: the store is unknown");
    }

    #[test]
    fn jsonl_takes_strings_numbers_and_nulls() {
        let (orders, _) = read(
            "x.jsonl",
            "{\"order_id\": 9, \"pay_state\": 2, \"cash\": \"12.50\", \"vip_id\": null, \"line_id\": 1, \"goods_id\": 3, \"goods_number\": 2, \"goods_total\": 12.5}\n\n",
        );
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].vip_id, None);
        assert_eq!(orders[0].lines[0].goods_total.as_deref(), Some("12.5"));
        assert_eq!(orders[0].lines[0].goods_number, Some(2));
    }

    #[test]
    fn disagreeing_rows_and_bad_integers_reject_the_order_not_the_file() {
        let (orders, _) = read(
            "x.csv",
            "order_id,cash,line_id,goods_number\n1,5,1,1\n1,6,2,1\n2,5,1,two\n3,5,1,1\n",
        );
        assert!(
            orders[0]
                .import_error
                .as_deref()
                .unwrap()
                .contains("disagree")
        );
        assert!(
            orders[1]
                .import_error
                .as_deref()
                .unwrap()
                .contains("goods_number")
        );
        assert_eq!(orders[2].import_error, None);
    }

    #[test]
    fn unusable_files_are_refused_with_the_reason() {
        for (name, body, want) in [
            ("x.txt", "order_id\n1\n", ".csv or .jsonl"),
            (
                "x.csv",
                "order_id,colour\n1,red\n",
                "unknown column \"colour\"",
            ),
            ("x.csv", "cash\n1\n", "order_id is required"),
            ("x.csv", "order_id\nabc\n", "line 2: order_id"),
            ("x.jsonl", "[1]\n", "line 1: not a JSON object"),
        ] {
            let (_dir, path) = file(name, body);
            let err = read_file(&path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{name} {body:?}: {err}");
        }
    }
}
