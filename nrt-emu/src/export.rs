//! How the emulator's C entry points become symbols of `libnrt.so`.
//!
//! The core crate defines every entry point as a plain (mangled) `extern "C" fn`, so
//! rustc exports none of them by itself. Each generation crate (`nrt-emu/gen-*`) then
//! names the symbols its library has with [`export_symbol!`]: a `global_asm!` alias from
//! the vendor's name to the Rust function. Symbols not named there do not exist in that
//! library, exactly as the 2.28 tracker functions do not exist in the real 2.29 runtime;
//! `gen-build.rs` assigns the ELF version nodes.

/// Define the global function symbol `$name` as a one-instruction trampoline, in its own
/// section, that tail-jumps to the Rust function `$f`: registers and stack are untouched,
/// so the callee sees the caller's arguments and returns straight to it. A `.set` alias
/// does not work here: `$f` lives in another crate's object, so the alias would stay
/// undefined and the linker would drop it.
#[macro_export]
macro_rules! export_symbol {
    ($name:ident => $f:path) => {
        ::core::arch::global_asm!(
            concat!(
                ".pushsection .text.", stringify!($name), ",\"ax\",@progbits\n",
                ".globl ", stringify!($name), "\n",
                ".type ", stringify!($name), ",@function\n",
                ".p2align 4\n",
                stringify!($name), ":\n",
                "jmp {f}\n",
                ".size ", stringify!($name), ", . - ", stringify!($name), "\n",
                ".popsection\n"
            ),
            f = sym $f
        );
    };
}
