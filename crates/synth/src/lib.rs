//! Synthetic order streams of a realistic food chain
