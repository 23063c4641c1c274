//! `portrait models btyd`: fit BG/NBD + Gamma-Gamma on a transaction CSV and print the fit.
//!
//! Input: a CSV with a header and at least the columns `customer_id`, `date` or `placed_at`,
//! and `amount`. A date is `YYYY-MM-DD`, an RFC 3339 timestamp (its own local date is used),
//! `YYYY-MM-DD HH:MM:SS`, or epoch milliseconds (taken in the chain's default time zone,
//! Asia/Shanghai = UTC+8, which has no daylight saving).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use portrait_models::btyd::{
    CustomerScore, PopulationFit, customer_lifetime_value, fit_population, score,
};
use portrait_models::summary::{CustomerSummary, Period, Transaction, summarize};

/// Time unit of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PeriodArg {
    Day,
    Week,
    Month,
}

impl From<PeriodArg> for Period {
    fn from(p: PeriodArg) -> Self {
        match p {
            PeriodArg::Day => Period::Day,
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
        }
    }
}

/// Fit BG/NBD (churn and purchase frequency) and Gamma-Gamma (spend) on a transaction log.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BtydArgs {
    /// CSV with a header and columns customer_id, date (or placed_at) and amount.
    #[arg(long)]
    pub transactions: PathBuf,
    /// Last day of the calibration window (YYYY-MM-DD); its whole period is included.
    #[arg(long)]
    pub calibration_end: NaiveDate,
    /// Time unit of recency, age and the horizon.
    #[arg(long, value_enum, default_value = "week")]
    pub period: PeriodArg,
    /// Also write per-customer P(alive), expected purchases, expected spend and CLV here.
    #[arg(long)]
    pub per_customer: Option<PathBuf>,
    /// Horizon of the expected purchases, in periods (default: one year, i.e. 365 days,
    /// 52 weeks or 12 months).
    #[arg(long)]
    pub horizon: Option<f64>,
    /// Months of customer lifetime value in the per-customer file.
    #[arg(long, default_value_t = 12)]
    pub clv_months: u32,
    /// Monthly discount rate of the customer lifetime value.
    #[arg(long, default_value_t = 0.01)]
    pub discount_rate: f64,
}

pub(crate) fn run(args: &BtydArgs) -> anyhow::Result<()> {
    let period = Period::from(args.period);
    let horizon = args.horizon.unwrap_or(match period {
        Period::Day => 365.0,
        Period::Week => 52.0,
        Period::Month => 12.0,
    });
    if !(horizon.is_finite() && horizon >= 0.0) {
        bail!("--horizon must be a finite number of periods >= 0, got {horizon}");
    }
    let transactions = read_transactions(&args.transactions)?;
    let summaries = summarize(&transactions, args.calibration_end, period)
        .context("failed to summarise the transactions per customer")?;
    let data: Vec<CustomerSummary> = summaries.iter().map(|(_, s)| *s).collect();
    let fit = fit_population(&data).context("failed to fit the models")?;

    let report = serde_json::json!({
        "period": period,
        "calibration_end": args.calibration_end.to_string(),
        "transactions": transactions.len(),
        "customers": data.len(),
        "bgnbd": {
            "r": fit.bgnbd.params.r,
            "alpha": fit.bgnbd.params.alpha,
            "a": fit.bgnbd.params.a,
            "b": fit.bgnbd.params.b,
            "log_likelihood": fit.bgnbd.log_likelihood,
            "customers": fit.bgnbd.customers,
        },
        "gamma_gamma": {
            "p": fit.gamma_gamma.params.p,
            "q": fit.gamma_gamma.params.q,
            "v": fit.gamma_gamma.params.v,
            "log_likelihood": fit.gamma_gamma.log_likelihood,
            "customers": fit.gamma_gamma.customers,
        },
    });
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &report)
        .context("failed to write the fit as JSON")?;
    writeln!(stdout).context("failed to write the fit as JSON")?;

    if let Some(out) = &args.per_customer {
        write_per_customer(out, &fit, &summaries, horizon, args, period)?;
    }
    Ok(())
}

fn write_per_customer(
    out: &Path,
    fit: &PopulationFit,
    summaries: &[(String, CustomerSummary)],
    horizon: f64,
    args: &BtydArgs,
    period: Period,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(out)
        .with_context(|| format!("failed to create {}", out.display()))?;
    w.write_record([
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    ])
    .context("failed to write the per-customer header")?;
    for (id, s) in summaries {
        let CustomerScore {
            probability_alive,
            expected_purchases,
            expected_spend,
        } = score(fit, s, horizon).with_context(|| format!("failed to score customer {id}"))?;
        let clv = customer_lifetime_value(
            &fit.bgnbd.params,
            &fit.gamma_gamma.params,
            s,
            args.clv_months,
            args.discount_rate,
            period,
        )
        .with_context(|| format!("failed to compute the lifetime value of customer {id}"))?;
        w.write_record([
            id.clone(),
            s.frequency.to_string(),
            s.recency.to_string(),
            s.age.to_string(),
            s.monetary.to_string(),
            probability_alive.to_string(),
            expected_purchases.to_string(),
            expected_spend.to_string(),
            clv.to_string(),
        ])
        .with_context(|| format!("failed to write customer {id}"))?;
    }
    w.flush()
        .with_context(|| format!("failed to write {}", out.display()))?;
    Ok(())
}

/// Read the transaction CSV; every malformed row is an error naming its line.
fn read_transactions(path: &Path) -> anyhow::Result<Vec<Transaction<String>>> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("failed to read the header of {}", path.display()))?
        .clone();
    let columns: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let col = |name: &str| columns.get(name).copied();
    let (Some(customer), Some(amount)) = (col("customer_id"), col("amount")) else {
        bail!(
            "{} needs the columns customer_id and amount",
            path.display()
        );
    };
    let Some(date) = col("date").or_else(|| col("placed_at")) else {
        bail!("{} needs a date or placed_at column", path.display());
    };
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("failed to read line {line}"))?;
        let field = |c: usize| record.get(c).map(str::trim).unwrap_or("");
        let id = field(customer);
        if id.is_empty() {
            bail!("line {line}: empty customer_id");
        }
        let day = parse_day(field(date)).with_context(|| format!("line {line}: bad date"))?;
        let value: f64 = field(amount)
            .parse()
            .with_context(|| format!("line {line}: amount {:?} is not a number", field(amount)))?;
        if !value.is_finite() || value < 0.0 {
            bail!("line {line}: amount {value} is not a finite number >= 0");
        }
        out.push(Transaction {
            customer: id.to_owned(),
            date: day,
            amount: value,
        });
    }
    Ok(out)
}

/// Shanghai is UTC+8 all year.
const CHAIN_OFFSET_SECONDS: i32 = 8 * 3600;

fn parse_day(s: &str) -> anyhow::Result<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.date_naive());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Ok(t.date());
    }
    if let Ok(ms) = s.parse::<i64>() {
        let offset = FixedOffset::east_opt(CHAIN_OFFSET_SECONDS).context("invalid offset")?;
        let t = DateTime::from_timestamp_millis(ms)
            .with_context(|| format!("epoch milliseconds {ms} are out of range"))?;
        return Ok(t.with_timezone(&offset).date_naive());
    }
    bail!("{s:?} is neither YYYY-MM-DD, RFC 3339 nor epoch milliseconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_date_forms() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        assert_eq!(parse_day("2024-03-05").unwrap(), d);
        assert_eq!(parse_day("2024-03-05T23:30:00+08:00").unwrap(), d);
        assert_eq!(parse_day("2024-03-05 10:00:00").unwrap(), d);
        // 2024-03-04T16:30:00Z is 2024-03-05 00:30 in Shanghai.
        assert_eq!(parse_day("1709569800000").unwrap(), d);
        assert!(parse_day("yesterday").is_err());
    }
}
