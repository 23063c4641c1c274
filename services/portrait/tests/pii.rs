//! PII at rest, in answers and in logs (issue 11), on the in-process stack
//! with authentication on: an export with known WeChat open ids, member ids
//! and phones is imported through `portrait import`; then no answer of the
//! main rpcs, no log line of any service (and of the import command) and no
//! byte of any file in the data dir holds one of them; a phone finds its
//! customer (also one whose id is wx:); the admin's reveal returns the plain
//! values and is in the audit log with the id; an analyst's is refused.

mod support;

#[path = "page/reveal.rs"]
mod reveal;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use portrait_auth::{ApiKey, AuthMode, AuthSettings, Role};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    CustomerPreferencesRequest, FindCustomerRequest, GetCustomerRequest, ListAuditEventsRequest,
    ListCustomerDaysRequest, ListCustomersRequest, ListRfmRequest, ListSuggestionsRequest,
    ListSyncJobsRequest, OverviewRequest, PortraitSummaryRequest, RevealCustomerRequest,
    SegmentDistributionRequest, SyncStatusRequest,
};
use portrait_service::BearerChannel;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

/// What the export names people by: open id, member id, phone as written,
/// the phone normalised (empty = none).
const PEOPLE: [(&str, &str, &str, &str); 6] = [
    ("oPiiWechatAlpha01", "", "13911112222", "13911112222"),
    ("oPiiWechatBravo02", "", "", ""),
    ("", "7301234567", "+86 139-3333-4444", "13933334444"),
    ("", "7309876543", "", ""),
    ("", "", "13955556666", "13955556666"),
    ("", "", "0086 13977778888", "13977778888"),
];

fn raw_values() -> Vec<&'static str> {
    let mut v: Vec<&str> = PEOPLE
        .iter()
        .flat_map(|(o, m, t, p)| [*o, *m, *t, *p])
        .filter(|s| !s.is_empty())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The expected id, recomputed with the hmac crate: `kind:` + the first 32
/// hex digits of HMAC-SHA256(key, value).
fn pseudonym(key: &str, kind: &str, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("hmac key");
    mac.update(value.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{kind}:{}", &hex[..32])
}

fn expected_id(key: &str, (open_id, member, _, phone): (&str, &str, &str, &str)) -> String {
    if !open_id.is_empty() {
        pseudonym(key, "wx", open_id)
    } else if !member.is_empty() {
        pseudonym(key, "vip", member)
    } else {
        pseudonym(key, "tel", phone)
    }
}

fn export(dir: &std::path::Path) -> std::path::PathBuf {
    let tz: chrono_tz::Tz = "Asia/Shanghai".parse().expect("zone");
    let day = chrono::Utc::now().with_timezone(&tz) - chrono::Duration::days(2);
    let mut csv = String::from(
        "order_id,open_id,vip_id,vip_tel,shop_id,shop_name,shop_city,record_time,total,cash,\
         pay_state,line_id,goods_id,goods_name,category_id,category_name,goods_number,goods_price,goods_total\n",
    );
    for (i, (open_id, member, tel, _)) in PEOPLE.iter().enumerate() {
        // Two orders each, so every person is a repeat customer.
        for n in 0..2 {
            let id = 100 + i * 2 + n;
            let at = (day + chrono::Duration::hours(n as i64)).format("%Y-%m-%d %H:%M:%S");
            csv.push_str(&format!(
                "{id},{open_id},{member},{tel},7,静安寺店,上海市,{at},12.50,12.50,2,{id}1,501,热狗,3,小吃,1,12.50,12.50\n"
            ));
        }
    }
    let path = dir.join("orders.csv");
    std::fs::write(&path, csv).expect("write the export");
    path
}

/// Every log line of the process, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn assert_clean(what: &str, text: &str) {
    for raw in raw_values() {
        assert!(!text.contains(raw), "{what} holds {raw:?}");
    }
}

async fn client(addr: std::net::SocketAddr, token: &str) -> PortraitServiceClient<BearerChannel> {
    PortraitServiceClient::new(support::authed(addr, token).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raw_pii_anywhere_and_reveal_is_the_admins_audited_way() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter("debug,h2=info,hyper=info,tower=info,sqlx=info")
        .with_writer(logs.clone())
        .with_ansi(false)
        .init();

    let dir = tempfile::tempdir().expect("dir");
    let (admin, analyst) = (portrait_auth::new_key(), portrait_auth::new_key());
    let key = |name: &str, role, sha256: &str| ApiKey {
        name: name.into(),
        sha256: sha256.to_owned(),
        role,
        stores: Vec::new(),
        cities: Vec::new(),
    };
    let auth = AuthSettings {
        mode: AuthMode::On,
        api_keys: vec![
            key("pii-admin", Role::Admin, &admin.sha256),
            key("pii-analyst", Role::Analyst, &analyst.sha256),
        ],
        ..AuthSettings::default()
    };
    let shutdown = CancellationToken::new();
    let stack = portrait::embedded::spawn_stack_with_auth(dir.path(), shutdown.clone(), auth)
        .await
        .expect("stack");
    let addr = stack.gateway_addr;
    let pii_key = std::fs::read_to_string(dir.path().join(portrait::embedded::PII_KEY_FILE))
        .expect("the embedded stack made sync.pii_key")
        .trim()
        .to_owned();
    let file = export(dir.path());
    let exported = std::fs::read_to_string(&file).expect("export");
    for raw in raw_values() {
        // Guards the grep below: each value is really in what was imported.
        let written =
            exported.contains(raw) || PEOPLE.iter().any(|p| p.3 == raw && !p.2.is_empty());
        assert!(written, "{raw} is not in the export");
    }

    let import = tokio::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
        .arg("import")
        .arg(&file)
        // `=`: a base64url token may start with '-'.
        .arg(format!("--gateway=http://{addr}"))
        .arg(format!("--token={}", admin.token))
        .env("RUST_LOG", "debug")
        .output()
        .await
        .expect("portrait import runs");
    let import_out = format!(
        "{}{}",
        String::from_utf8_lossy(&import.stdout),
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(import.status.success(), "{import_out}");
    assert!(
        String::from_utf8_lossy(&import.stderr).contains("reaching the gateway"),
        "portrait import's debug log was not captured: {import_out}"
    );
    assert_clean("portrait import's output", &import_out);

    let mut admin_c = client(addr, &admin.token).await;
    let mut analyst_c = client(addr, &analyst.token).await;
    let ids: Vec<String> = PEOPLE.iter().map(|p| expected_id(&pii_key, *p)).collect();
    // Caught up: the profiler knows every expected id.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for id in &ids {
        loop {
            let found = analyst_c
                .find_customer(FindCustomerRequest { query: id.clone() })
                .await;
            if found.is_ok() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{id}: {found:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // (b) A phone finds its customer, whatever kind of id that customer has.
    let mut answers: Vec<String> = Vec::new();
    for (person, id) in PEOPLE.iter().zip(&ids) {
        if person.3.is_empty() {
            continue;
        }
        let written = format!("+86 {} {}", &person.3[..3], &person.3[3..]);
        let found = analyst_c
            .find_customer(FindCustomerRequest { query: written })
            .await
            .expect("found by phone")
            .into_inner();
        assert_eq!(&found.customer_id, id, "{person:?}");
        answers.push(format!("{found:?}"));
    }

    // (a) The main answers, as an analyst sees them.
    answers.push(format!(
        "{:?}",
        analyst_c.get_overview(OverviewRequest::default()).await
    ));
    answers.push(format!(
        "{:?}",
        analyst_c
            .get_segment_distribution(SegmentDistributionRequest::default())
            .await
    ));
    let listed = analyst_c
        .list_customers(ListCustomersRequest::default())
        .await
        .expect("customers")
        .into_inner();
    assert_eq!(listed.customers.len(), ids.len(), "{listed:?}");
    answers.push(format!("{listed:?}"));
    answers.push(format!(
        "{:?}",
        analyst_c.list_rfm(ListRfmRequest::default()).await
    ));
    answers.push(format!(
        "{:?}",
        analyst_c
            .list_suggestions(ListSuggestionsRequest::default())
            .await
    ));
    answers.push(format!(
        "{:?}",
        analyst_c
            .get_portrait_summary(PortraitSummaryRequest::default())
            .await
    ));
    answers.push(format!(
        "{:?}",
        admin_c.list_sync_jobs(ListSyncJobsRequest::default()).await
    ));
    answers.push(format!(
        "{:?}",
        admin_c
            .get_data_quality_report(portrait_proto::v1::GetDataQualityReportRequest::default())
            .await
    ));
    answers.push(format!(
        "{:?}",
        admin_c.get_sync_status(SyncStatusRequest {}).await
    ));
    for id in &ids {
        let profile = analyst_c
            .get_customer(GetCustomerRequest {
                customer_id: id.clone(),
                filter: None,
            })
            .await
            .expect("a profile")
            .into_inner();
        answers.push(format!("{profile:?}"));
        answers.push(format!(
            "{:?}",
            analyst_c
                .list_customer_days(ListCustomerDaysRequest {
                    customer_id: id.clone(),
                    ..Default::default()
                })
                .await
        ));
        answers.push(format!(
            "{:?}",
            analyst_c
                .get_customer_preferences(CustomerPreferencesRequest {
                    customer_id: id.clone(),
                    ..Default::default()
                })
                .await
        ));
    }
    let json =
        support::http::request_as(addr, "GET", "/v1/customers", None, Some(&analyst.token)).await;
    answers.push(json.body.to_string());
    for (i, a) in answers.iter().enumerate() {
        assert_clean(&format!("answer {i}"), a);
    }

    // (c) The admin's reveal: the plain values, recorded with the id.
    for (person, id) in PEOPLE.iter().zip(&ids) {
        let shown = admin_c
            .reveal_customer(RevealCustomerRequest {
                customer_id: id.clone(),
            })
            .await
            .expect("revealed")
            .into_inner();
        assert_eq!(
            (
                shown.open_id.as_str(),
                shown.member_id.as_str(),
                shown.phone.as_str()
            ),
            (person.0, person.1, person.3),
            "{id}"
        );
    }
    let refused = analyst_c
        .reveal_customer(RevealCustomerRequest {
            customer_id: ids[0].clone(),
        })
        .await
        .expect_err("an analyst may not reveal");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let json = support::http::request_as(
        addr,
        "POST",
        "/v1/customers:reveal",
        Some(&format!(r#"{{"customerId": "{}"}}"#, ids[2])),
        Some(&admin.token),
    )
    .await;
    assert_eq!(json.status, 200, "{}", json.body);
    assert_eq!(json.body["memberId"], PEOPLE[2].1);
    // (d) The page: an admin's drawer reveals the seeded phone (one more
    // `revealed` event), an analyst's has no button.
    let browsed = reveal::admin_reveals_and_analyst_sees_no_button(
        addr,
        &admin.token,
        &analyst.token,
        &ids[0],
        (PEOPLE[0].0, PEOPLE[0].1, PEOPLE[0].3),
    )
    .await;
    let reveals = ids.len() + 1 + usize::from(browsed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = admin_c
            .list_audit_events(ListAuditEventsRequest {
                page_size: 1000,
                page_token: String::new(),
            })
            .await
            .expect("audit")
            .into_inner()
            .events;
        let revealed: Vec<&str> = events
            .iter()
            .filter(|e| e.outcome == "revealed" && e.subject == "pii-admin")
            .map(|e| e.reason.as_str())
            .collect();
        let denied = events.iter().any(|e| {
            e.outcome == "permission_denied"
                && e.subject == "pii-analyst"
                && e.rpc.ends_with("RevealCustomer")
        });
        let all = ids
            .iter()
            .all(|id| revealed.contains(&format!("customer_id={id}").as_str()));
        if all && denied && revealed.len() == reveals {
            assert_clean("the audit log", &format!("{events:?}"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit log: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    shutdown.cancel();
    stack.wait().await.expect("clean stop");

    // Every byte of every file the stack wrote (stores, log, WAL); the keys'
    // own files hold no person's data. The ids themselves must be there:
    // the scan reads what the stores hold.
    let mut scanned = 0;
    let mut seen_id = false;
    for entry in std::fs::read_dir(dir.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if !path.is_file() || name.as_deref() == Some("orders.csv") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a store file");
        for raw in raw_values() {
            assert!(
                !bytes.windows(raw.len()).any(|w| w == raw.as_bytes()),
                "{} holds {raw:?}",
                path.display()
            );
        }
        seen_id |= bytes.windows(ids[0].len()).any(|w| w == ids[0].as_bytes());
        scanned += 1;
    }
    assert!(scanned >= 6, "only {scanned} files");
    assert!(
        seen_id,
        "no store holds the pseudonym: the scan reads nothing"
    );

    let logs = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(
        logs.contains("sync job succeeded"),
        "the logs were not captured"
    );
    assert_clean("the logs", &logs);
    std::io::stderr()
        .write_all(
            format!(
                "pii: {} answers, {scanned} files, {} log bytes clean\n",
                answers.len(),
                logs.len()
            )
            .as_bytes(),
        )
        .ok();
}
