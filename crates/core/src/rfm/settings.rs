//! How RFM is computed: the window and the segment thresholds, from the
//! service's configuration overridden per request.

use portrait_proto::v1::{RfmSettings, RfmThresholdKind};

use crate::{Day, Error, Result};

/// Longest window and longest fixed recency: a century of days.
pub const MAX_WINDOW_DAYS: i64 = 36_500;
/// Bounds of the fixed thresholds. Far above any real value, and small
/// enough that `value · 2` and `value · n` stay inside `i128` comparisons.
pub const MAX_FIXED_FREQUENCY: i64 = 1_000_000_000;
pub const MAX_FIXED_MONETARY_FEN: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdKind {
    Mean,
    Median,
    Fixed,
}

impl ThresholdKind {
    pub fn proto(self) -> RfmThresholdKind {
        match self {
            ThresholdKind::Mean => RfmThresholdKind::Mean,
            ThresholdKind::Median => RfmThresholdKind::Median,
            ThresholdKind::Fixed => RfmThresholdKind::Fixed,
        }
    }
}

/// Fixed thresholds: R is high with fewer days since the last order than
/// `recency_days`, F with more orders than `frequency`, M with more spend
/// than `monetary_fen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fixed {
    pub recency_days: i64,
    pub frequency: i64,
    pub monetary_fen: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdRule {
    Mean,
    Median,
    Fixed(Fixed),
}

impl ThresholdRule {
    pub fn kind(self) -> ThresholdKind {
        match self {
            ThresholdRule::Mean => ThresholdKind::Mean,
            ThresholdRule::Median => ThresholdKind::Median,
            ThresholdRule::Fixed(_) => ThresholdKind::Fixed,
        }
    }
}

/// The settings one answer is computed with; part of its cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RfmParams {
    /// 0 = all history.
    pub window_days: i64,
    pub thresholds: ThresholdRule,
}

/// The configured settings (`rfm.*`), which a request may override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfmDefaults {
    pub window_days: i64,
    pub kind: ThresholdKind,
    /// Kept whatever `kind` is: a request asking for fixed thresholds
    /// without values gets these.
    pub fixed: Fixed,
}

impl Default for RfmDefaults {
    fn default() -> Self {
        Self {
            window_days: 0,
            kind: ThresholdKind::Mean,
            fixed: Fixed {
                recency_days: 30,
                frequency: 2,
                monetary_fen: 20_000,
            },
        }
    }
}

fn within(field: &str, value: i64, max: i64) -> Result<i64> {
    if (0..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be 0-{max}, not {value}"),
        ))
    }
}

impl RfmDefaults {
    /// Refuses settings out of range, naming the key (`rfm.window_days` …).
    pub fn check(&self) -> Result<()> {
        within("rfm.window_days", self.window_days, MAX_WINDOW_DAYS)?;
        let f = &self.fixed;
        within("rfm.fixed_recency_days", f.recency_days, MAX_WINDOW_DAYS)?;
        within("rfm.fixed_frequency", f.frequency, MAX_FIXED_FREQUENCY)?;
        within(
            "rfm.fixed_monetary_fen",
            f.monetary_fen,
            MAX_FIXED_MONETARY_FEN,
        )?;
        Ok(())
    }
}

impl RfmParams {
    /// A request's settings over the defaults; errors name the request's
    /// field (`rfm.window_days` …), which match the configuration's keys.
    pub fn resolve(request: Option<&RfmSettings>, defaults: &RfmDefaults) -> Result<Self> {
        let default = RfmSettings::default();
        let r = request.unwrap_or(&default);
        let window_days = match r.window_days {
            Some(w) => within("rfm.window_days", w.into(), MAX_WINDOW_DAYS)?,
            None => defaults.window_days,
        };
        let kind = match RfmThresholdKind::try_from(r.thresholds) {
            Ok(RfmThresholdKind::Unspecified) => defaults.kind,
            Ok(RfmThresholdKind::Mean) => ThresholdKind::Mean,
            Ok(RfmThresholdKind::Median) => ThresholdKind::Median,
            Ok(RfmThresholdKind::Fixed) => ThresholdKind::Fixed,
            Err(_) => {
                let reason = format!("unknown threshold kind {}", r.thresholds);
                return Err(Error::invalid("rfm.thresholds", reason));
            }
        };
        let given = [
            ("rfm.fixed_recency_days", r.fixed_recency_days),
            ("rfm.fixed_frequency", r.fixed_frequency),
            ("rfm.fixed_monetary_fen", r.fixed_monetary_fen),
        ];
        let thresholds = match kind {
            ThresholdKind::Mean | ThresholdKind::Median => {
                // A value that would be silently ignored is a mistake.
                if let Some((field, _)) = given.iter().find(|(_, v)| v.is_some()) {
                    return Err(Error::invalid(*field, "only with fixed thresholds"));
                }
                if kind == ThresholdKind::Mean {
                    ThresholdRule::Mean
                } else {
                    ThresholdRule::Median
                }
            }
            ThresholdKind::Fixed => {
                let d = defaults.fixed;
                let pick = |(field, v): (&str, Option<i64>), default: i64, max: i64| {
                    v.map_or(Ok(default), |v| within(field, v, max))
                };
                ThresholdRule::Fixed(Fixed {
                    recency_days: pick(given[0], d.recency_days, MAX_WINDOW_DAYS)?,
                    frequency: pick(given[1], d.frequency, MAX_FIXED_FREQUENCY)?,
                    monetary_fen: pick(given[2], d.monetary_fen, MAX_FIXED_MONETARY_FEN)?,
                })
            }
        };
        Ok(Self {
            window_days,
            thresholds,
        })
    }

    /// The filter's day range clipped to the window: the `window_days` local
    /// days ending with `as_of`, i.e. `[as_of + 1 − window_days, to)`. May be
    /// empty (`from ≥ to`), which selects no order.
    pub fn clip(&self, from: Option<Day>, to: Day, as_of: Day) -> (Option<Day>, Day) {
        if self.window_days == 0 {
            return (from, to);
        }
        // window_days ≤ 36,500, so this fits a Day.
        let start = as_of + 1 - self.window_days as Day;
        (Some(from.map_or(start, |f| f.max(start))), to)
    }
}

/// One threshold as the exact fraction `num / den` (`den > 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    num: i128,
    den: i128,
}

impl Threshold {
    fn whole(v: i64) -> Self {
        Self {
            num: v.into(),
            den: 1,
        }
    }

    /// The population's mean; 0 for nobody.
    fn mean(values: &[i64]) -> Self {
        if values.is_empty() {
            return Self::whole(0);
        }
        Self {
            num: values.iter().map(|v| i128::from(*v)).sum(),
            den: values.len() as i128,
        }
    }

    /// The middle value, or the mean of the two middle values of an even
    /// population, kept as (lower + upper) / 2; 0 for nobody.
    fn median(mut values: Vec<i64>) -> Self {
        let n = values.len();
        if n == 0 {
            return Self::whole(0);
        }
        let (lower, upper) = ((n - 1) / 2, n / 2);
        let (_, &mut hi, _) = values.select_nth_unstable(upper);
        // Every value below position `upper` is ≤ hi, so the lower middle
        // is the largest of them.
        let lo = if lower == upper {
            hi
        } else {
            values[..upper].iter().copied().max().unwrap_or(hi)
        };
        Self {
            num: i128::from(lo) + i128::from(hi),
            den: 2,
        }
    }

    /// `v` strictly above the threshold, in integers.
    pub fn exceeded_by(&self, v: i64) -> bool {
        i128::from(v) * self.den > self.num
    }

    /// `v` strictly below the threshold, in integers.
    pub fn undercut_by(&self, v: i64) -> bool {
        i128::from(v) * self.den < self.num
    }

    pub fn value(&self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

/// The three thresholds a population's segments compare against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub kind: ThresholdKind,
    pub recency_days: Threshold,
    pub frequency: Threshold,
    pub monetary_fen: Threshold,
}

impl Thresholds {
    /// From the population's values, each in the customers' order.
    pub fn of(rule: ThresholdRule, recency: &[i64], frequency: &[i64], monetary: &[i64]) -> Self {
        let (r, f, m) = match rule {
            ThresholdRule::Mean => (
                Threshold::mean(recency),
                Threshold::mean(frequency),
                Threshold::mean(monetary),
            ),
            ThresholdRule::Median => (
                Threshold::median(recency.to_vec()),
                Threshold::median(frequency.to_vec()),
                Threshold::median(monetary.to_vec()),
            ),
            ThresholdRule::Fixed(x) => (
                Threshold::whole(x.recency_days),
                Threshold::whole(x.frequency),
                Threshold::whole(x.monetary_fen),
            ),
        };
        Self {
            kind: rule.kind(),
            recency_days: r,
            frequency: f,
            monetary_fen: m,
        }
    }

    /// Whether R, F and M are each "high": strictly better than the threshold.
    pub fn high(&self, recency_days: i64, frequency: i64, monetary_fen: i64) -> (bool, bool, bool) {
        (
            self.recency_days.undercut_by(recency_days),
            self.frequency.exceeded_by(frequency),
            self.monetary_fen.exceeded_by(monetary_fen),
        )
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
