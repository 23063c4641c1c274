//! `portrait backup --with-keys` (issue 11): the embedded stack's PII keys go
//! with the backup, so a restore into an empty folder reveals the same people
//! as before; a backup without them restores stores whose reveal copies no
//! longer open (the stack makes new keys), refused as before.

use std::path::Path;

use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{FindCustomerRequest, RevealCustomerRequest, RevealCustomerResponse};

use crate::backup::{portrait, said};
use crate::stack::Stack;

/// (open id, member id, phone): what the export names each person by.
const PEOPLE: [(&str, &str, &str); 3] = [
    ("oKeysWechat01", "", "13922223333"),
    ("", "7405550001", "13944445555"),
    ("", "", "13966667777"),
];

fn export(dir: &Path) -> String {
    // The stack's zone is Asia/Shanghai, UTC+8 all year.
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("an offset");
    let day = chrono::Utc::now().with_timezone(&tz) - chrono::Duration::days(2);
    let mut csv = String::from(
        "order_id,open_id,vip_id,vip_tel,shop_id,shop_name,shop_city,record_time,total,cash,\
         pay_state,line_id,goods_id,goods_name,category_id,category_name,goods_number,goods_price,goods_total\n",
    );
    for (i, (open_id, member, tel)) in PEOPLE.iter().enumerate() {
        let at = day.format("%Y-%m-%d %H:%M:%S");
        csv.push_str(&format!(
            "{},{open_id},{member},{tel},7,静安寺店,上海市,{at},12.50,12.50,2,{}1,501,热狗,3,小吃,1,12.50,12.50\n",
            300 + i,
            300 + i
        ));
    }
    let path = dir.join("orders.csv");
    std::fs::write(&path, csv).expect("write the export");
    path.display().to_string()
}

async fn reveal_all(
    stack: &Stack,
    ids: &[String],
) -> Vec<Result<RevealCustomerResponse, tonic::Code>> {
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let mut out = Vec::new();
    for id in ids {
        let answer = gateway
            .reveal_customer(RevealCustomerRequest {
                customer_id: id.clone(),
            })
            .await;
        out.push(answer.map(|r| r.into_inner()).map_err(|s| s.code()));
    }
    out
}

/// Readable and writable by its owner only.
fn private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).expect("metadata");
    meta.permissions().mode() & 0o777 == 0o600
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_with_its_keys_reveals_the_same_people_after_a_restore() {
    let mut stack = Stack::embedded();
    stack.start_all();
    let data = stack.dir.path().join("data");
    let data_s = data.display().to_string();
    let csv = export(stack.dir.path());
    stack.channel("gateway").await;
    let out = portrait(&[
        "import",
        &csv,
        &format!("--gateway={}", stack.url("gateway")),
    ]);
    assert!(out.status.success(), "import failed: {}", said(&out));
    stack.wait_caught_up().await;
    let mut gateway = PortraitServiceClient::new(stack.channel("gateway").await);
    let mut ids = Vec::new();
    for (_, _, phone) in PEOPLE {
        let found = gateway
            .find_customer(FindCustomerRequest {
                query: phone.into(),
            })
            .await
            .expect("found by phone")
            .into_inner();
        ids.push(found.customer_id);
    }
    let before = reveal_all(&stack, &ids).await;
    for ((open_id, member, phone), answer) in PEOPLE.iter().zip(&before) {
        let a = answer.as_ref().expect("revealed before the backup");
        assert_eq!(
            (a.open_id.as_str(), a.member_id.as_str(), a.phone.as_str()),
            (*open_id, *member, *phone)
        );
    }

    let with = stack.dir.path().join("with-keys");
    let without = stack.dir.path().join("without-keys");
    let (with_s, without_s) = (with.display().to_string(), without.display().to_string());
    let out = portrait(&["backup", &with_s, "--data-dir", &data_s, "--with-keys"]);
    assert!(out.status.success(), "backup failed: {}", said(&out));
    let out = portrait(&["backup", &without_s, "--data-dir", &data_s]);
    assert!(out.status.success(), "backup failed: {}", said(&out));
    let manifest = |dir: &Path| -> serde_json::Value {
        let text = std::fs::read(dir.join("manifest.json")).expect("manifest");
        serde_json::from_slice(&text).expect("json")
    };
    let listed: Vec<String> = manifest(&with)["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| k["file"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        listed,
        ["pii.key", "pii_encryption.key"],
        "auth is off: no admin.token"
    );
    assert!(
        manifest(&without).get("keys").is_none(),
        "no keys by default"
    );
    assert!(!without.join("pii.key").exists());
    for key in &listed {
        assert!(private(&with.join(key)), "{key}");
    }

    // With its keys, into an empty folder: the same answers.
    stack.kill9("portrait");
    std::fs::remove_dir_all(&data).expect("wipe");
    let out = portrait(&["restore", &with_s, "--data-dir", &data_s]);
    assert!(out.status.success(), "restore failed: {}", said(&out));
    for key in &listed {
        let restored = data.join(key);
        assert!(private(&restored), "{key}");
        assert_eq!(
            std::fs::read(&restored).expect("restored key"),
            std::fs::read(with.join(key)).expect("backed-up key")
        );
    }
    stack.start_all();
    stack.wait_caught_up().await;
    assert_eq!(reveal_all(&stack, &ids).await, before, "the same people");

    // A key of another stack is not replaced without --force.
    stack.kill9("portrait");
    std::fs::write(data.join("pii.key"), "another stack's key\n").expect("write");
    let out = portrait(&["restore", &with_s, "--data-dir", &data_s]);
    assert!(
        !out.status.success() && said(&out).contains("pii.key") && said(&out).contains("--force"),
        "{}",
        said(&out)
    );

    // Without its keys: the stack makes new ones, and the copies do not open.
    std::fs::remove_dir_all(&data).expect("wipe");
    let out = portrait(&["restore", &without_s, "--data-dir", &data_s]);
    assert!(out.status.success(), "restore failed: {}", said(&out));
    assert!(!data.join("pii_encryption.key").exists());
    stack.start_all();
    stack.wait_caught_up().await;
    let after = reveal_all(&stack, &ids).await;
    assert!(
        after
            .iter()
            .all(|a| *a == Err(tonic::Code::FailedPrecondition)),
        "{after:?}"
    );
    stack.kill9("portrait");
}
