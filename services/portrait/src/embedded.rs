use std::path::Path;

use anyhow::Context;
use figment::providers::Serialized;
use portrait_service::{BusKind, Config, ServiceName};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One configuration per service, in `ServiceName::ALL` order (gateway first),
/// all on the embedded log and SQLite stores under one data folder.
///
/// `base_port` moves the five ports together: gateway on it, the others after it.
pub(crate) fn configs(
    data_dir: Option<&Path>,
    base_port: Option<u16>,
) -> anyhow::Result<Vec<Config>> {
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

pub(crate) struct Stack {
    pub(crate) gateway_addr: String,
    pub(crate) ingest_addr: String,
    tasks: JoinSet<(ServiceName, portrait_service::Result<()>)>,
    shutdown: CancellationToken,
}

/// Starts the five services as tasks of this process.
pub(crate) fn start(configs: Vec<Config>, shutdown: CancellationToken) -> Stack {
    let addr = |s: ServiceName| {
        configs
            .iter()
            .zip(ServiceName::ALL)
            .find(|(_, n)| *n == s)
            .map(|(c, _)| c.server.listen.clone())
            .unwrap_or_default()
    };
    let (gateway_addr, ingest_addr) = (addr(ServiceName::Gateway), addr(ServiceName::Ingest));
    let mut tasks = JoinSet::new();
    for (config, service) in configs.into_iter().zip(ServiceName::ALL) {
        let token = shutdown.clone();
        tasks.spawn(async move {
            let result = match service {
                ServiceName::Gateway => portrait_gateway::run(config, token).await,
                ServiceName::Ingest => portrait_ingest::run(config, token).await,
                ServiceName::Profiler => portrait_profiler::run(config, token).await,
                ServiceName::Rfm => portrait_rfm::run(config, token).await,
                ServiceName::Suggest => portrait_suggest::run(config, token).await,
            };
            (service, result)
        });
    }
    Stack {
        gateway_addr,
        ingest_addr,
        tasks,
        shutdown,
    }
}

impl Stack {
    /// Waits until every service stopped; the first failure stops the others.
    pub(crate) async fn wait(mut self) -> anyhow::Result<()> {
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
