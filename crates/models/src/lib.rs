//! Customer models: BG/NBD, Gamma-Gamma, cross-purchase, recommendations, clustering, anomalies
