//! Sync against a running stack, as an operator sees it: the gateway's
//! Prometheus `/metrics` after a sync, and `portrait import` uploading an
//! export into the running stack (not an in-process one).

use std::collections::BTreeMap;
use std::process::{Command, Output};

use portrait_proto::v1::{
    GetDataQualityReportRequest, SyncCounts, SyncJob, SyncJobState, SyncMode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cyrg::Db;
use crate::stack::bin_dir;
use crate::sync::{World, counts, events_published, world};

/// The export: 900001 and 900003 count (900003's store is not in the file:
/// `unknown_store`, a correction), 900002's rows disagree (`bad_row`),
/// 900004 is deleted (`deleted`).
const EXPORT: &str = "order_id,shop_id,shop_name,shop_city,record_time,cash,pay_state,delflag,line_id,goods_id,goods_name,goods_number,goods_total\n\
    900001,2,徐汇店,上海,2025-06-01 12:00:00,12.00,2,0,1,101,经典热狗,1,12.00\n\
    900002,2,徐汇店,上海,2025-06-01 12:00:00,10.00,2,0,2,203,可乐,2,10.00\n\
    900002,2,徐汇店,上海,2025-06-01 12:30:00,10.00,2,0,3,203,可乐,2,10.00\n\
    900003,77,新店,,2025-06-01 13:00:00,8.00,2,0,4,203,可乐,1,8.00\n\
    900004,2,徐汇店,上海,2025-06-01 14:00:00,8.00,2,1,5,203,可乐,1,8.00\n";

/// `GET /metrics` over plain HTTP/1.0: every sample, keyed by its name and
/// sorted labels (`name{a="1",b="2"}`).
async fn scrape(port: u16) -> BTreeMap<String, f64> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("metrics port");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("response");
    let (head, text) = body.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("name value");
            let key = match key.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
                None => key.to_owned(),
            };
            (key, value.parse::<f64>().expect("a number"))
        })
        .collect()
}

fn sample(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {:#?}", m.keys().collect::<Vec<_>>()))
}

/// The orders series of `mode` against a job's counters.
fn orders_of(m: &BTreeMap<String, f64>, mode: &str) -> SyncCounts {
    let get = |outcome: &str| {
        sample(
            m,
            &format!("portrait_sync_orders_total{{mode=\"{mode}\",outcome=\"{outcome}\"}}"),
        ) as i64
    };
    SyncCounts {
        read: get("read"),
        accepted: get("accepted"),
        unchanged: get("unchanged"),
        retracted: get("retracted"),
        rejected: get("rejected"),
        corrected: get("corrected"),
    }
}

/// Findings of `mode` and `kind` by reason, from the metrics.
fn findings_of(m: &BTreeMap<String, f64>, mode: &str, kind: &str) -> BTreeMap<String, i64> {
    let prefix = format!("portrait_sync_findings_total{{kind=\"{kind}\",mode=\"{mode}\",reason=\"");
    m.iter()
        .filter_map(|(k, v)| {
            let reason = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            Some((reason.to_owned(), *v as i64))
        })
        .collect()
}

/// The data-quality report's count per reason of `kind` for job `id`.
async fn report_reasons(w: &World, id: i64, kind: &str) -> BTreeMap<String, i64> {
    w.gateway()
        .await
        .get_data_quality_report(GetDataQualityReportRequest { job_id: id })
        .await
        .expect("report")
        .into_inner()
        .reasons
        .into_iter()
        .filter(|r| r.kind == kind)
        .map(|r| (r.reason, r.count))
        .collect()
}

fn portrait(args: &[&str]) -> Output {
    Command::new(bin_dir().join("portrait"))
        .args(args)
        .env_remove("PORTRAIT_GATEWAY")
        .output()
        .expect("portrait")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn import(w: &World, file: &str) -> SyncJob {
    let out = portrait(&["import", file, "--gateway", &w.stack.url("gateway")]);
    assert!(out.status.success(), "{}", text(&out));
    let mut gw = w.gateway().await;
    let report = gw
        .get_data_quality_report(GetDataQualityReportRequest { job_id: 0 })
        .await
        .expect("report")
        .into_inner();
    let job = report.recent_jobs.first().cloned().expect("the import job");
    assert_eq!(
        (job.mode, job.state),
        (SyncMode::Import as i32, SyncJobState::Succeeded as i32),
        "{job:?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let c = counts(&job);
    for (name, n) in [
        ("read", c.read),
        ("accepted", c.accepted),
        ("rejected", c.rejected),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().eq([name, &n.to_string()])),
            "the summary shows {name} {n}: {stdout}"
        );
    }
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_equal_the_jobs_and_import_reaches_a_running_stack() {
    let metrics_port = portrait_testkit::free_port();
    let listen = format!("127.0.0.1:{metrics_port}");
    let Some(mut w) = world(
        Db::Postgres,
        &[("PORTRAIT__TELEMETRY__METRICS_LISTEN", listen.as_str())],
    )
    .await
    else {
        return;
    };
    let (orders, lines) = w.source_gen.initial(120);
    w.insert(&orders, &lines).await;
    w.stack.start_all();

    // 1. A sync: every sync series equals the job's counters, the source's size and ids.
    let job = w.sync(SyncMode::Incremental).await;
    let m = scrape(metrics_port).await;
    let c = counts(&job);
    assert_eq!(c.read, orders.len() as i64);
    assert_eq!(orders_of(&m, "incremental"), c);
    let rejected = findings_of(&m, "incremental", "rejected");
    assert_eq!(rejected, report_reasons(&w, job.job_id, "rejected").await);
    assert_eq!(rejected.values().sum::<i64>(), c.rejected);
    assert!(rejected.len() >= 5, "{rejected:?}");
    assert_eq!(
        findings_of(&m, "incremental", "corrected"),
        report_reasons(&w, job.job_id, "corrected").await
    );
    let max_id = orders.iter().map(|o| o.id).max().expect("orders");
    assert_eq!(sample(&m, "portrait_sync_watermark"), max_id as f64);
    let ok = "{mode=\"incremental\",outcome=\"succeeded\"}";
    assert_eq!(sample(&m, &format!("portrait_sync_jobs_total{ok}")), 1.0);
    let by_mode = "{mode=\"incremental\"}";
    assert_eq!(
        sample(&m, &format!("portrait_sync_job_seconds_count{by_mode}")),
        1.0
    );
    let secs = (job.finished_at_ms - job.started_at_ms) as f64 / 1000.0;
    let measured = sample(&m, &format!("portrait_sync_job_seconds_sum{by_mode}"));
    assert!((measured - secs).abs() < 0.002, "{measured} vs {secs}");
    let last = sample(
        &m,
        &format!("portrait_sync_last_success_timestamp_seconds{by_mode}"),
    );
    assert!(
        (last - job.finished_at_ms as f64 / 1000.0).abs() < 0.002,
        "{last}"
    );
    assert_eq!(sample(&m, "portrait_sync_job_running"), 0.0);

    // 2. `portrait import` into the running stack: mapped, submitted and
    // recorded by the stack, so the report and `portrait quality` show it.
    w.stack.wait_caught_up().await;
    let before = events_published(&w).await;
    let file = w.stack.dir.path().join("export.csv");
    std::fs::write(&file, EXPORT).expect("csv");
    let file = file.display().to_string();
    let imported = import(&w, &file).await;
    let c = counts(&imported);
    assert_eq!(
        (
            c.read,
            c.accepted,
            c.unchanged,
            c.retracted,
            c.rejected,
            c.corrected
        ),
        (4, 2, 0, 0, 2, 1),
        "{imported:?}"
    );
    let wanted = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(r, n)| (r.to_string(), *n)).collect()
    };
    assert_eq!(
        report_reasons(&w, imported.job_id, "rejected").await,
        wanted(&[("bad_row", 1), ("deleted", 1)])
    );
    assert_eq!(
        report_reasons(&w, imported.job_id, "corrected").await,
        wanted(&[("unknown_store", 1)])
    );
    w.stack.wait_caught_up().await;
    assert_eq!(
        events_published(&w).await,
        before + 2,
        "ingest published both"
    );
    let quality = portrait(&["quality", "--gateway", &w.stack.url("gateway")]);
    let shown = text(&quality);
    assert!(quality.status.success(), "{shown}");
    assert!(
        shown.contains(&format!("data quality of sync job {}", imported.job_id))
            && shown.contains("bad_row")
            && shown.contains("900002"),
        "{shown}"
    );
    let m = scrape(metrics_port).await;
    assert_eq!(orders_of(&m, "import"), c);
    assert_eq!(
        findings_of(&m, "import", "rejected"),
        wanted(&[("bad_row", 1), ("deleted", 1)])
    );
    assert_eq!(
        sample(&m, "portrait_sync_watermark"),
        max_id as f64,
        "imports leave it"
    );

    // 3. The same file again publishes nothing.
    let again = import(&w, &file).await;
    let c = counts(&again);
    assert_eq!(
        (c.read, c.accepted, c.unchanged, c.rejected),
        (4, 0, 2, 2),
        "{again:?}"
    );
    w.stack.wait_caught_up().await;
    assert_eq!(events_published(&w).await, before + 2);
    let m = scrape(metrics_port).await;
    assert_eq!(
        sample(
            &m,
            "portrait_sync_jobs_total{mode=\"import\",outcome=\"succeeded\"}"
        ),
        2.0
    );

    // 4. No stack there: a clear error naming the address and the way out.
    let nowhere = format!("http://127.0.0.1:{}", portrait_testkit::free_port());
    let out = portrait(&["import", &file, "--gateway", &nowhere]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&nowhere) && said.contains("--data-dir"),
        "{said}"
    );
}
