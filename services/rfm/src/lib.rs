//! The rfm service
