//! libnrt.so for SDK 2.30
