//! `portrait import FILE.csv|FILE.jsonl`: the file is parsed here and its
//! orders uploaded to a running stack's gateway, whose hosted sync maps them
//! with the stack's rules, submits them to the stack's ingest and records the
//! job and its findings (so `portrait quality` reports them). `--data-dir`
//! does the same against the embedded stack started in this process.

use std::path::PathBuf;
use std::time::Duration;

use crate::token::ClientChannel as Channel;
use anyhow::Context;
use clap::Args;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{ImportOrdersRequest, SourceOrderRow, SyncJob};
use portrait_sync::map::{Shops, SourceOrder};
use portrait_sync::wire;
use prost::Message as _;

use crate::follow::progress;
use crate::sync_cmd::{self, Work};

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// A CSV or JSONL export, one row per order line (docs/sync.md lists the columns).
    file: PathBuf,
    #[command(flatten)]
    pub(crate) reach: crate::token::GatewayArgs,
    /// No stack running: start the embedded stack on this folder in this
    /// process, import into it, wait until every consumer applied it, stop.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Gateway port of the in-process stack (with --data-dir).
    #[arg(long, requires = "data_dir")]
    base_port: Option<u16>,
}

/// An upload message stays well under the gateway's 4 MiB request limit.
const MESSAGE_BYTES: usize = 1 << 20;

impl ImportArgs {
    /// `--data-dir`: the import runs on a stack started in this process.
    pub(crate) fn in_process(&self) -> bool {
        self.data_dir.is_some()
    }
}

pub(crate) async fn import(args: ImportArgs) -> anyhow::Result<()> {
    if let Some(dir) = args.data_dir {
        return sync_cmd::in_process(Some(dir), args.base_port, Work::Import(args.file)).await;
    }
    // Before reading a large file: a stack that is not there should say so at once.
    let mut gateway = connect_running(&args.reach).await?;
    let (orders, shops) = read(&args.file)?;
    let job = upload(&mut gateway, &args.file, orders, shops).await?;
    let job = sync_cmd::follow(&mut gateway, job.job_id).await?;
    sync_cmd::finish(&job)
}

pub(crate) fn read(file: &std::path::Path) -> anyhow::Result<(Vec<SourceOrder>, Shops)> {
    portrait_sync::import::read_export(file).context("failed to read the import file")
}

async fn connect_running(
    reach: &crate::token::GatewayArgs,
) -> anyhow::Result<PortraitServiceClient<Channel>> {
    let (url, token) = (&reach.gateway, &reach.token);
    let endpoint = crate::token::endpoint(reach)?.connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await.map_err(anyhow::Error::new).with_context(|| {
        format!(
            "failed to reach the Portrait gateway at {url}: is the stack running (`portrait run`)? \
             Point --gateway (or PORTRAIT_GATEWAY) at it, or import without a stack: \
             `portrait import FILE --data-dir DIR`"
        )
    })?;
    Ok(PortraitServiceClient::new(crate::token::authed(
        channel, token,
    )?))
}

/// Streams the orders to the gateway and returns the import job it started.
pub(crate) async fn upload(
    gateway: &mut PortraitServiceClient<Channel>,
    file: &std::path::Path,
    orders: Vec<SourceOrder>,
    shops: Shops,
) -> anyhow::Result<SyncJob> {
    let bar = progress(orders.len() as u64, "uploading");
    let file_name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut shops = Some(wire::shop_rows(shops));
    let mut rows = orders.into_iter().map(wire::order_row).peekable();
    let counter = bar.clone();
    // Built as the stream is polled: the file's orders are converted once,
    // a message at a time, never all held twice.
    let messages = std::iter::from_fn(move || {
        let shops = shops.take();
        if rows.peek().is_none() && shops.is_none() {
            return None;
        }
        let mut batch: Vec<SourceOrderRow> = Vec::new();
        let mut bytes = 0;
        while bytes < MESSAGE_BYTES
            && let Some(row) = rows.next()
        {
            bytes += row.encoded_len();
            batch.push(row);
        }
        counter.inc(batch.len() as u64);
        Some(ImportOrdersRequest {
            file_name: if shops.is_some() {
                file_name.clone()
            } else {
                String::new()
            },
            orders: batch,
            shops: shops.unwrap_or_default(),
        })
    });
    let answer = gateway
        .import_orders(tokio_stream::iter(messages))
        .await
        .map_err(|s| anyhow::anyhow!("{}: {}", code_name(s.code()), s.message()))
        .context("the gateway refused the import");
    bar.finish();
    answer?
        .into_inner()
        .job
        .context("the gateway returned no import job")
}

fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Aborted => "busy",
        tonic::Code::InvalidArgument => "invalid",
        tonic::Code::Unimplemented => "this gateway has no ImportOrders (an older version?)",
        tonic::Code::Unavailable => "unavailable",
        _ => "error",
    }
}
