//! The emulator's model format, loading and operations. CONTRACT STUB (owner: core emulator engineer).
