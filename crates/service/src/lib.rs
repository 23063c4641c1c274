//! Service plumbing: config, telemetry, shutdown, the consumer loop, gRPC helpers
