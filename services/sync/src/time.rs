//! `recordTime` text in the chain's local time → UTC epoch milliseconds.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// The three layouts the source writes (doc: cyrg2025.md).
const FORMATS: [&str; 3] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
];

/// Local wall-clock text → UTC instant; `None` when no layout matches or the
/// local time does not exist in `tz`. An ambiguous time takes the earlier instant.
pub fn parse_local_ms(text: &str, tz: Tz) -> Option<i64> {
    let t = text.trim();
    let naive = FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|dt| dt.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SH: Tz = chrono_tz::Asia::Shanghai;
    /// 2025-03-05 12:34:56 in Shanghai is 04:34:56 UTC.
    const INSTANT: i64 = 1_741_149_296_000;

    #[test]
    fn the_three_layouts_in_shanghai() {
        assert_eq!(parse_local_ms("2025-03-05 12:34:56", SH), Some(INSTANT));
        assert_eq!(parse_local_ms("2025/3/5 12:34:56", SH), Some(INSTANT));
        assert_eq!(parse_local_ms("2025/03/05 12:34:56", SH), Some(INSTANT));
        assert_eq!(
            parse_local_ms("2025-03-05T12:34:56.123", SH),
            Some(INSTANT + 123)
        );
        assert_eq!(parse_local_ms("2025-03-05T12:34:56", SH), Some(INSTANT));
        assert_eq!(parse_local_ms("  2025-03-05 12:34:56 ", SH), Some(INSTANT));
    }

    #[test]
    fn the_zone_is_applied() {
        let utc = parse_local_ms("2025-03-05 12:34:56", chrono_tz::UTC).unwrap();
        assert_eq!(utc - INSTANT, 8 * 3_600_000);
    }

    #[test]
    fn garbage_is_refused() {
        for t in [
            "",
            "   ",
            "null",
            "2025-13-05 12:00:00",
            "2025-02-30 12:00:00",
            "2025-03-05",
            "12:34:56",
            "2025.03.05 12:34:56",
            "2025-03-05 25:00:00",
            "0000-00-00 00:00:00",
        ] {
            assert_eq!(parse_local_ms(t, SH), None, "{t:?}");
        }
    }

    #[test]
    fn a_skipped_local_time_is_refused_and_an_ambiguous_one_takes_the_first() {
        let ny = chrono_tz::America::New_York;
        assert_eq!(parse_local_ms("2025-03-09 02:30:00", ny), None);
        let first = parse_local_ms("2025-11-02 01:30:00", ny).unwrap();
        let after = parse_local_ms("2025-11-02 00:30:00", ny).unwrap();
        assert_eq!(first - after, 3_600_000);
    }
}
