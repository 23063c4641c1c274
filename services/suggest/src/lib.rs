//! The suggest service
