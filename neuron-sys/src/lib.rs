//! Raw bindings to libnrt.
