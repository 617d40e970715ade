//! Tensors and tensor sets. CONTRACT STUB (owner: core emulator engineer).
