//! Pure domain logic: validation, order folding, RFM, churn rule
