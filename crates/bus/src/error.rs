#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("kafka topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    #[error("embedded log {path}: {source}")]
    Log {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("embedded log record is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
