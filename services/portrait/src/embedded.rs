use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use figment::providers::Serialized;
use portrait_service::{BusKind, Config, ServiceName};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One configuration per service, in `ServiceName::ALL` order (gateway first),
/// all on the embedded log and SQLite stores under one data folder.
///
/// `base_port` moves the five ports together: gateway on it, the others after it.
pub fn configs(data_dir: Option<&Path>, base_port: Option<u16>) -> anyhow::Result<Vec<Config>> {
    let port = |s: ServiceName| {
        base_port.map(|b| b.saturating_add(s.default_port() - ServiceName::Gateway.default_port()))
    };
    ServiceName::ALL
        .iter()
        .map(|&service| {
            let mut figment = Config::figment(service)?;
            if let Some(dir) = data_dir {
                figment = figment.merge(Serialized::default("data_dir", dir));
            }
            if base_port.is_some() {
                for other in ServiceName::ALL {
                    let url = format!("http://127.0.0.1:{}", port(other).unwrap_or_default());
                    if other != ServiceName::Gateway {
                        figment = figment.merge(Serialized::default(&format!("gateway.{}", other.as_str()), url));
                    }
                }
                let listen = format!("127.0.0.1:{}", port(service).unwrap_or_default());
                figment = figment.merge(Serialized::default("server.listen", listen));
            }
            let config = Config::extract(figment, service)?;
            if config.bus.kind != BusKind::Embedded {
                anyhow::bail!("the all-in-one process needs bus.kind = \"embedded\"; run the service binaries for Kafka");
            }
            Ok(config)
        })
        .collect::<anyhow::Result<_>>()
        .context("failed to configure the embedded stack")
}

/// The five services running as tasks of this process.
pub struct Stack {
    pub gateway_addr: SocketAddr,
    pub ingest_addr: SocketAddr,
    addrs: Vec<(ServiceName, SocketAddr)>,
    /// Released when the stack has stopped (`wait` consumes it).
    _lock: crate::data_lock::DataDirLock,
    tasks: JoinSet<(ServiceName, portrait_service::Result<()>)>,
    shutdown: CancellationToken,
}

/// Binds every configured address, then starts the five services. A taken
/// port fails here, before anything runs.
pub async fn start(configs: Vec<Config>, shutdown: CancellationToken) -> anyhow::Result<Stack> {
    let mut listeners = Vec::with_capacity(configs.len());
    for c in &configs {
        let (listener, _) = portrait_service::bind(&c.server.listen).await?;
        listeners.push(listener);
    }
    start_bound(configs, listeners, shutdown)
}

/// The whole stack in this process on `data_dir`, every service on a free
/// port: what tests and benchmarks start.
pub async fn spawn_stack(data_dir: &Path, shutdown: CancellationToken) -> anyhow::Result<Stack> {
    let mut configs = configs(Some(data_dir), None)?;
    let mut listeners = Vec::with_capacity(configs.len());
    for _ in &configs {
        let (listener, addr) = portrait_service::bind("127.0.0.1:0").await?;
        listeners.push((listener, addr));
    }
    let url = |s: ServiceName| {
        let i = ServiceName::ALL.iter().position(|n| *n == s).unwrap_or(0);
        format!("http://{}", listeners[i].1)
    };
    for c in &mut configs {
        c.gateway.ingest = url(ServiceName::Ingest);
        c.gateway.profiler = url(ServiceName::Profiler);
        c.gateway.rfm = url(ServiceName::Rfm);
        c.gateway.suggest = url(ServiceName::Suggest);
    }
    for (c, (_, addr)) in configs.iter_mut().zip(&listeners) {
        c.server.listen = addr.to_string();
    }
    start_bound(
        configs,
        listeners.into_iter().map(|(l, _)| l).collect(),
        shutdown,
    )
}

fn start_bound(
    configs: Vec<Config>,
    listeners: Vec<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<Stack> {
    let addr = |s: ServiceName| -> anyhow::Result<SocketAddr> {
        let i = ServiceName::ALL.iter().position(|n| *n == s).unwrap_or(0);
        Ok(listeners[i].local_addr()?)
    };
    let (gateway_addr, ingest_addr) = (addr(ServiceName::Gateway)?, addr(ServiceName::Ingest)?);
    let data_dir = configs
        .first()
        .map(|c| c.data_dir.clone())
        .context("failed to start the embedded stack: no configuration")?;
    let lock = crate::data_lock::DataDirLock::acquire(&data_dir)?;
    let addrs = ServiceName::ALL
        .iter()
        .map(|&s| Ok((s, addr(s)?)))
        .collect::<anyhow::Result<_>>()?;
    let mut tasks = JoinSet::new();
    for ((config, listener), service) in configs.into_iter().zip(listeners).zip(ServiceName::ALL) {
        let token = shutdown.clone();
        tasks.spawn(async move {
            let result = match service {
                ServiceName::Gateway => portrait_gateway::run(config, listener, token).await,
                ServiceName::Ingest => portrait_ingest::run(config, listener, token).await,
                ServiceName::Profiler => portrait_profiler::run(config, listener, token).await,
                ServiceName::Rfm => portrait_rfm::run(config, listener, token).await,
                ServiceName::Suggest => portrait_suggest::run(config, listener, token).await,
            };
            (service, result)
        });
    }
    Ok(Stack {
        gateway_addr,
        ingest_addr,
        addrs,
        _lock: lock,
        tasks,
        shutdown,
    })
}

impl Stack {
    /// Where `service` listens.
    pub fn addr(&self, service: ServiceName) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, a)| *a)
    }

    /// Waits until every service stopped; the first failure stops the others.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let (service, result) = joined.context("a service task panicked")?;
            if let Err(e) = result {
                self.shutdown.cancel();
                first_error.get_or_insert(
                    anyhow::Error::new(e).context(format!("{} failed", service.as_str())),
                );
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
