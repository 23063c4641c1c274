//! The 客群画像 page's 「同步数据」 button against a stack syncing from a
//! MariaDB source: in chromium, a click runs a job to completion, the page
//! says so with the job's counts, and then shows the synced orders' figures,
//! which equal gRPC's for the page's filter (and gRPC's equal the SQL oracle).

use portrait_proto::v1::{GetSyncJobRequest, OverviewRequest, SyncJobState, SyncMode};
use portrait_testkit::browser;
use serde_json::{Value, json};

use crate::cyrg::Db;
use crate::sync::{date, world};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_sync_button_runs_a_job_to_completion() {
    let Some(python) = browser::python() else {
        return;
    };
    let Some(mut w) = world(Db::MySql, &[]).await else {
        return;
    };
    let (orders, lines) = w.source_gen.initial(300);
    w.insert(&orders, &lines).await;
    w.stack.start_all();
    // The stack is a process: up before the browser comes.
    w.stack.wait_caught_up().await;
    let spec = json!({
        "mode": "sync",
        // The run is full: 全量 ticked (the default, incremental, is the tour's error path).
        "full": true,
        "url": w.stack.url("gateway"),
        "asOf": date(w.source_gen.today_ms),
        "screenshots": browser::screenshots(env!("CARGO_TARGET_TMPDIR"), "sync"),
    })
    .to_string();
    let report = tokio::task::spawn_blocking(move || browser::drive(&python, &spec))
        .await
        .expect("the browser ran");
    let report: Value = serde_json::from_str(&report).expect("a JSON report");
    let before = &report["states"]["before"];
    let after = &report["states"]["after"];
    assert_eq!(text(&before["kpis"]["total"]["value"]), "0");
    assert_eq!(text(&after["syncState"]), "SYNC_JOB_STATE_SUCCEEDED");

    let mut gw = w.gateway().await;
    let job_id: i64 = text(&after["job"]).parse().expect("a job id");
    let job = gw.get_sync_job(GetSyncJobRequest { job_id }).await;
    let job = job.expect("the job").into_inner();
    assert_eq!(job.state, SyncJobState::Succeeded as i32);
    assert_eq!(job.mode, SyncMode::Full as i32, "全量 asks for a full run");
    let c = job.counts.expect("counts");
    // Every source order is read once (the generator adds quirky ones to the 300).
    assert_eq!(c.read, orders.len() as i64);
    let message = text(&after["message"]);
    assert!(message.contains("同步完成"), "{message}");
    assert!(
        message.contains(&format!("读取 {} 单", c.read)),
        "{message}"
    );
    let shown: Vec<String> = (after["qualityCounts"].as_array().into_iter().flatten())
        .map(|v| text(v).replace(',', ""))
        .collect();
    let want = [
        c.read,
        c.accepted,
        c.unchanged,
        c.retracted,
        c.rejected,
        c.corrected,
    ];
    assert_eq!(shown, want.map(|n| n.to_string()), "the quality panel");

    // After the job the page shows the synced orders, as gRPC counts them.
    let f = &after["filter"];
    let list = |k: &str| (f[k].as_array().into_iter().flatten()).map(text).collect();
    let filter = portrait_proto::v1::Filter {
        store_ids: list("storeIds"),
        cities: list("cities"),
        from_date: text(&f["fromDate"]),
        to_date: text(&f["toDate"]),
        as_of_date: text(&f["asOfDate"]),
    };
    let overview = gw
        .get_overview(OverviewRequest {
            filter: Some(filter),
        })
        .await;
    let overview = overview.expect("overview").into_inner();
    assert!(overview.total_customers > 0);
    assert_eq!(
        text(&after["kpis"]["total"]["value"]),
        overview.total_customers.to_string()
    );
    assert_eq!(
        text(&after["kpis"]["active"]["value"]),
        overview.active_customers.to_string()
    );
    assert!(
        report["errors"].as_array().is_some_and(Vec::is_empty),
        "{}",
        report["errors"]
    );
    w.assert_oracle().await;
}
