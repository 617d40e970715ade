//! `libnrt.so` for the SDK 2.28 generation of the async API (error tracker, completion handle).
