//! Yuan as decimal text → integer fen, without floating point.

/// Parses `12`, `12.5`, `-0.30`, `12.500` into fen. More than two decimals
/// are accepted only when the extra digits are zeros (the source's columns
/// are `decimal(18,2)`; a driver may print more scale than that).
pub fn yuan_to_fen(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 && frac[2..].bytes().any(|b| b != b'0') {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut cents: i64 = 0;
    for (i, b) in frac.bytes().take(2).enumerate() {
        let d = i64::from(b - b'0');
        cents += if i == 0 { d * 10 } else { d };
    }
    let fen = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -fen } else { fen })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_becomes_exact_fen() {
        for (text, fen) in [
            ("0", 0),
            ("12", 1200),
            ("12.5", 1250),
            ("12.50", 1250),
            ("12.05", 1205),
            (" 3.99 ", 399),
            ("0.01", 1),
            (".5", 50),
            ("7.", 700),
            ("-0.30", -30),
            ("+1.10", 110),
            ("12.5000", 1250),
            ("9999999999999999.99", 999_999_999_999_999_999),
        ] {
            assert_eq!(yuan_to_fen(text), Some(fen), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            " ",
            ".",
            "-",
            "1.005",
            "1,5",
            "1e3",
            "¥5",
            "abc",
            "1.2.3",
            "--1",
            "NaN",
            "99999999999999999999",
        ] {
            assert_eq!(yuan_to_fen(text), None, "{text:?}");
        }
    }

    #[test]
    fn agrees_with_integer_arithmetic_on_every_cent() {
        for fen in (-2_000_i64..2_000).chain([123_456_789, -987_654_321]) {
            let text = format!(
                "{}{}.{:02}",
                if fen < 0 { "-" } else { "" },
                fen.abs() / 100,
                fen.abs() % 100
            );
            assert_eq!(yuan_to_fen(&text), Some(fen), "{text}");
        }
    }
}
