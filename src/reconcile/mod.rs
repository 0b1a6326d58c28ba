//! reconcile (being written).
