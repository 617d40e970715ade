//! Sequence ids of the explicit async API (`nrt_async.h`): an XU id in bits 63..48 and a
//! per-XU, strictly increasing sequence number in bits 47..0.

/// `nrta_seq_t`: one request's id.
pub type nrta_seq_t = u64;
/// `nrta_xu_id_t`: the 16-bit XU-instance id carried in the top bits of an `nrta_seq_t`.
pub type nrta_xu_id_t = u16;
/// `nrta_xu_t`: an XU type. The numbering differs per generation: see
/// [`crate::gen_a`] and [`crate::gen_b`] for the constants.
pub type nrta_xu_t = u32;

/// `NRTA_SEQ_NUM_MAX`: the largest sequence number, 2^48 - 1.
pub const NRTA_SEQ_NUM_MAX: u64 = (1u64 << 48) - 1;
/// `NRTA_SEQ_NUM_MASK`: selects the sequence number of an id (same value as the maximum).
pub const NRTA_SEQ_NUM_MASK: u64 = NRTA_SEQ_NUM_MAX;

/// `NRTA_SEQ_GET_SEQ_NUM(s)`: the low 48 bits.
pub const fn nrta_seq_get_seq_num(seq: nrta_seq_t) -> u64 {
    seq & NRTA_SEQ_NUM_MASK
}

/// `NRTA_SEQ_GET_XU_ID(s)`: the top 16 bits.
pub const fn nrta_seq_get_xu_id(seq: nrta_seq_t) -> nrta_xu_id_t {
    // The shift leaves at most 16 significant bits, so the cast loses nothing.
    (seq >> 48) as nrta_xu_id_t
}
