//! The ingest service
