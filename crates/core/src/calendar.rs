use chrono::{DateTime, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::{Error, Result};

/// A local calendar day as days since 1970-01-01.
pub type Day = i32;

/// Buckets UTC instants into the chain's local days and hours (UTC by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Calendar {
    tz: Tz,
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

impl Calendar {
    pub fn new(time_zone: &str) -> Result<Self> {
        let tz = time_zone
            .parse::<Tz>()
            .map_err(|_| Error::TimeZone(time_zone.to_owned()))?;
        Ok(Self { tz })
    }

    /// Local day and hour of an instant; instants outside chrono's range map to day 0.
    pub fn day_hour(&self, epoch_ms: i64) -> (Day, u8) {
        let Some(utc) = DateTime::from_timestamp_millis(epoch_ms) else {
            return (0, 0);
        };
        let local = utc.with_timezone(&self.tz);
        let day = (local.date_naive() - EPOCH).num_days() as Day;
        (day, local.hour() as u8)
    }

    pub fn day(&self, epoch_ms: i64) -> Day {
        self.day_hour(epoch_ms).0
    }

    /// Parses `YYYY-MM-DD`; the error names `field`.
    pub fn parse_day(field: &str, text: &str) -> Result<Day> {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| Error::invalid(field, format!("{text:?} is not a date (YYYY-MM-DD)")))?;
        Ok((date - EPOCH).num_days() as Day)
    }

    pub fn format_day(day: Day) -> String {
        EPOCH
            .checked_add_signed(chrono::TimeDelta::days(day.into()))
            .map_or_else(|| day.to_string(), |d| d.format("%Y-%m-%d").to_string())
    }

    /// UTC instant of local midnight starting `day` (the earliest one, should a
    /// transition make midnight ambiguous).
    pub fn midnight_ms(&self, day: Day) -> i64 {
        let date = EPOCH + chrono::TimeDelta::days(day.into());
        let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                t.timestamp_millis()
            }
            // Midnight skipped by a transition: the day starts an hour later.
            chrono::LocalResult::None => self.midnight_ms_after_gap(naive),
        }
    }

    fn midnight_ms_after_gap(&self, naive: chrono::NaiveDateTime) -> i64 {
        let later = naive + chrono::TimeDelta::hours(1);
        self.tz
            .from_local_datetime(&later)
            .earliest()
            .map_or(0, |t| t.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_buckets_by_local_time() {
        let cal = Calendar::new("Asia/Shanghai").unwrap();
        // 2024-01-01T16:30:00Z is 2024-01-02 00:30 in Shanghai.
        let ms = 1_704_126_600_000;
        let (day, hour) = cal.day_hour(ms);
        assert_eq!(Calendar::format_day(day), "2024-01-02");
        assert_eq!(hour, 0);
        assert_eq!(Calendar::parse_day("f", "2024-01-02").unwrap(), day);
        assert_eq!(cal.midnight_ms(day), 1_704_124_800_000);
    }

    #[test]
    fn bad_inputs_are_named() {
        assert!(Calendar::new("Mars/Olympus").is_err());
        let err = Calendar::parse_day("filter.from_date", "2024-13-01").unwrap_err();
        assert!(err.to_string().contains("filter.from_date"));
    }
}
