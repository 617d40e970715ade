//! Execution-unit identity: the generation-neutral XU kinds, how each async generation
//! numbers them (`nrta_xu_t`), how many queues each has, and how an XU instance
//! (logical core × XU type × queue) is encoded in the top 16 bits of a sequence id.
//!
//! Encoding of the 16-bit XU id (our choice; the vendor leaves it undocumented):
//! bits 15..8 = logical core, bits 7..4 = the generation's `nrta_xu_t` value,
//! bits 3..0 = queue. In a full `nrta_seq_t` that is LNC in bits 63..56 (as the
//! never-released draft header had it), type in 55..52 and queue in 51..48.

use neuron_sys::{nrta_seq_t, nrta_xu_t, NRTA_SEQ_NUM_MASK};

/// What an execution unit does, independent of any generation's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XuKind {
    /// Device-to-host transfers (its own XU only in 2.28).
    TensorRead,
    /// Host-to-device transfers (its own XU only in 2.28).
    TensorWrite,
    /// Tensor copies (2.28); reads, writes and copies (2.29+).
    TensorOp,
    /// Model executions.
    Compute,
    /// Standalone collectives.
    Collectives,
}

impl XuKind {
    /// A short lower-case name, used in traces, fault specs and messages.
    pub fn name(self) -> &'static str {
        match self {
            XuKind::TensorRead => "read",
            XuKind::TensorWrite => "write",
            XuKind::TensorOp => "tensor_op",
            XuKind::Compute => "compute",
            XuKind::Collectives => "collectives",
        }
    }

    /// Parse a name as written in a fault spec (`read`, `write`, `op`/`tensor_op`/`copy`,
    /// `compute`, `collectives`/`cc`).
    pub fn parse(s: &str) -> Option<XuKind> {
        Some(match s {
            "read" | "tensor_read" => XuKind::TensorRead,
            "write" | "tensor_write" => XuKind::TensorWrite,
            "op" | "tensor_op" | "copy" => XuKind::TensorOp,
            "compute" => XuKind::Compute,
            "collectives" | "cc" => XuKind::Collectives,
            _ => return None,
        })
    }
}

/// Which shape of the async API the library presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// SDK 2.28: five XU types, error tracker, completion handle.
    GenA,
    /// SDK 2.29: three XU types, per-request status.
    GenB,
    /// SDK 2.30+: Gen B plus eventfd registration.
    GenBEvents,
}

impl Api {
    /// The number of XU types (`NRTA_XU_TYPE_NUM`).
    pub fn type_count(self) -> u32 {
        match self {
            Api::GenA => neuron_sys::gen_a::NRTA_XU_TYPE_NUM,
            Api::GenB | Api::GenBEvents => neuron_sys::gen_b::NRTA_XU_TYPE_NUM,
        }
    }

    /// The `nrta_xu_t` that runs requests of `kind` in this generation. In 2.29+ reads
    /// and writes run on the TENSOR_OP unit.
    pub fn xu_of(self, kind: XuKind) -> nrta_xu_t {
        use neuron_sys::{gen_a as a, gen_b as b};
        match (self, kind) {
            (Api::GenA, XuKind::TensorRead) => a::NRTA_XU_TENSOR_READ,
            (Api::GenA, XuKind::TensorWrite) => a::NRTA_XU_TENSOR_WRITE,
            (Api::GenA, XuKind::TensorOp) => a::NRTA_XU_TENSOR_OP,
            (Api::GenA, XuKind::Compute) => a::NRTA_XU_COMPUTE,
            (Api::GenA, XuKind::Collectives) => a::NRTA_XU_COLLECTIVES,
            (_, XuKind::TensorRead | XuKind::TensorWrite | XuKind::TensorOp) => {
                b::NRTA_XU_TENSOR_OP
            }
            (_, XuKind::Compute) => b::NRTA_XU_COMPUTE,
            (_, XuKind::Collectives) => b::NRTA_XU_COLLECTIVES,
        }
    }

    /// The kind an `nrta_xu_t` value names in this generation (the TENSOR_OP unit of
    /// 2.29+ is reported as `TensorOp`), or `None` when out of range.
    pub fn kind_of(self, xu: nrta_xu_t) -> Option<XuKind> {
        use neuron_sys::{gen_a as a, gen_b as b};
        Some(match self {
            Api::GenA => match xu {
                a::NRTA_XU_TENSOR_READ => XuKind::TensorRead,
                a::NRTA_XU_TENSOR_WRITE => XuKind::TensorWrite,
                a::NRTA_XU_TENSOR_OP => XuKind::TensorOp,
                a::NRTA_XU_COMPUTE => XuKind::Compute,
                a::NRTA_XU_COLLECTIVES => XuKind::Collectives,
                _ => return None,
            },
            Api::GenB | Api::GenBEvents => match xu {
                b::NRTA_XU_TENSOR_OP => XuKind::TensorOp,
                b::NRTA_XU_COMPUTE => XuKind::Compute,
                b::NRTA_XU_COLLECTIVES => XuKind::Collectives,
                _ => return None,
            },
        })
    }

    /// Queues per XU type. COMPUTE 1, COLLECTIVES 3 and the tensor unit 2 follow the
    /// 2.29+ overview; for the three 2.28 tensor units, which no source gives a count,
    /// we give each 2, like the 2.29 unit that replaced them.
    pub fn queue_count(self, kind: XuKind) -> u32 {
        match kind {
            XuKind::Compute => 1,
            XuKind::Collectives => 3,
            XuKind::TensorRead | XuKind::TensorWrite | XuKind::TensorOp => 2,
        }
    }
}

/// One XU instance: logical core, the generation's XU type value, queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct XuAddr {
    /// Logical core, process-relative.
    pub lnc: u32,
    /// The generation's `nrta_xu_t` value.
    pub xu: nrta_xu_t,
    /// Queue index within that XU type.
    pub queue: u32,
}

impl XuAddr {
    /// The 16-bit XU id (see the module docs for the layout).
    pub fn id(self) -> u16 {
        // lnc < 256, xu < 16 and queue < 16 are guaranteed by the device's table (it
        // refuses configurations beyond them), so the masks never drop set bits.
        (((self.lnc & 0xff) << 8) | ((self.xu & 0xf) << 4) | (self.queue & 0xf)) as u16
    }

    /// Decode an XU id; the caller still checks that the triple exists.
    pub fn from_id(id: u16) -> XuAddr {
        let id = u32::from(id);
        XuAddr {
            lnc: id >> 8,
            xu: (id >> 4) & 0xf,
            queue: id & 0xf,
        }
    }

    /// The full sequence id of request number `num` on this XU.
    pub fn seq(self, num: u64) -> nrta_seq_t {
        (u64::from(self.id()) << 48) | (num & NRTA_SEQ_NUM_MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_and_sits_in_the_top_bits() {
        let a = XuAddr {
            lnc: 3,
            xu: 4,
            queue: 2,
        };
        assert_eq!(a.id(), 0x0342);
        assert_eq!(XuAddr::from_id(a.id()), a);
        let s = a.seq(7);
        assert_eq!(neuron_sys::nrta_seq_get_xu_id(s), 0x0342);
        assert_eq!(neuron_sys::nrta_seq_get_seq_num(s), 7);
    }

    #[test]
    fn generation_b_folds_transfers_into_tensor_op() {
        for k in [XuKind::TensorRead, XuKind::TensorWrite, XuKind::TensorOp] {
            assert_eq!(Api::GenB.xu_of(k), neuron_sys::gen_b::NRTA_XU_TENSOR_OP);
        }
        assert_eq!(
            Api::GenA.xu_of(XuKind::TensorWrite),
            neuron_sys::gen_a::NRTA_XU_TENSOR_WRITE
        );
        for api in [Api::GenA, Api::GenB] {
            for xu in 0..api.type_count() {
                let k = api.kind_of(xu).expect("in range");
                assert_eq!(api.xu_of(k), xu);
            }
            assert_eq!(api.kind_of(api.type_count()), None);
        }
    }
}
