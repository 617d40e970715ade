//! How the emulator's C entry points become symbols of `libnrt.so`.
//!
//! The core crate defines every entry point as a plain (mangled) `extern "C" fn`, so
//! rustc exports none of them by itself. Each generation crate (`nrt-emu/gen-*`) then
//! names the symbols its library has with [`export_symbol!`]: a `global_asm!` alias from
//! the vendor's name to the Rust function. Symbols not named there do not exist in that
//! library, exactly as the 2.28 tracker functions do not exist in the real 2.29 runtime;
//! `gen-build.rs` assigns the ELF version nodes.

/// Define the global function symbol `$name` as a one-instruction trampoline that
/// tail-jumps to the Rust function `$f` (arguments and return value pass through
/// untouched). A `.set` alias does not work here: `$f` lives in another crate's object,
/// so the alias stays undefined and the linker drops it (lld: "version script
/// assignment ... failed: symbol not defined").
#[macro_export]
macro_rules! export_symbol {
    ($name:literal => $f:path) => {
        ::core::arch::global_asm!(
            concat!(
                ".globl ", $name, "\n.type ", $name, ",@function\n", $name, ":\n",
                "    jmp {f}\n.size ", $name, ", . - ", $name
            ),
            f = sym $f
        );
    };
}
