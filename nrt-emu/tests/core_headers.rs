//! The C headers in `nrt-emu/include/nrt/`: each compiles alone, and all together in
//! both orders, as C11 and as C++17 with `-Wall -Wextra -Werror`; and the struct
//! layouts and enum values they declare are the vendor's (nrt-abi.md §2–3), checked by
//! the compiler itself with static assertions.

use std::path::PathBuf;
use std::process::Command;

const HEADERS: &[&str] = &[
    "nrt/nrt_status.h",
    "nrt/nrt_version.h",
    "nrt/ndl/neuron_driver_shared_tensor_batch_op.h",
    "nrt/nrt.h",
    "nrt/nrt_experimental.h",
    "nrt/nrt_async.h",
];

fn include_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("include")
}

/// Compile `source` with `compiler` (`gcc -std=c11` or `g++ -std=c++17`); panics with
/// the compiler's output when it fails.
fn compile(cplusplus: bool, name: &str, source: &str) {
    let dir = std::env::temp_dir().join(format!("nrt-emu-headers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if cplusplus { "cpp" } else { "c" };
    let file = dir.join(format!("{name}.{ext}"));
    std::fs::write(&file, source).unwrap();
    let (cc, std) = if cplusplus {
        ("g++", "-std=c++17")
    } else {
        ("gcc", "-std=c11")
    };
    let out = Command::new(cc)
        .args([std, "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
        .arg(include_dir())
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} {std} failed on {}:\n{}\n--- source ---\n{source}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn includes(headers: &[&str]) -> String {
    headers
        .iter()
        .map(|h| format!("#include \"{h}\"\n"))
        .collect()
}

#[test]
fn each_header_compiles_alone() {
    for (i, h) in HEADERS.iter().enumerate() {
        assert!(include_dir().join(h).exists(), "{h} exists");
        let src = format!("{}int main(void) {{ return 0; }}\n", includes(&[h]));
        compile(false, &format!("alone{i}"), &src);
        compile(true, &format!("alone{i}"), &src);
    }
}

#[test]
fn all_headers_compile_in_both_orders() {
    let forward = includes(HEADERS);
    let mut rev: Vec<&str> = HEADERS.to_vec();
    rev.reverse();
    let backward = includes(&rev);
    for (name, inc) in [("forward", forward), ("backward", backward)] {
        let src = format!("{inc}int main(void) {{ return 0; }}\n");
        compile(false, name, &src);
        compile(true, name, &src);
    }
}

/// Sizes, alignments, offsets and enum values from nrt-abi.md, as compile-time checks
/// (a mismatch is a compile error naming the failed assertion).
#[test]
fn layouts_and_values_match_the_vendor_abi() {
    let checks = r#"
#include "nrt/nrt.h"
#include "nrt/nrt_experimental.h"
#include "nrt/nrt_version.h"
#include <stddef.h>
#ifdef __cplusplus
#define SA static_assert
#else
#define SA _Static_assert
#endif
#define OFF(T, f, v) SA(offsetof(T, f) == v, #T "." #f)
SA(sizeof(NRT_STATUS) == 4, "status size");
SA(NRT_QUEUE_FULL == 7 && NRT_LOAD_NOT_ENOUGH_NC == 9 && NRT_UNINITIALIZED == 13, "codes");
SA(NRT_CLOSED == 14 && NRT_QUEUE_EMPTY == 15 && NRT_EXEC_UNIT_UNRECOVERABLE == 101, "codes");
SA(NRT_EXEC_BAD_INPUT == 1002 && NRT_EXEC_OOB == 1006 && NRT_COLL_PENDING == 1100, "codes");
SA(NRT_EXEC_HW_ERR_COLLECTIVES == 1200 && NRT_NETWORK_PROXY_FAILURE == 1206, "codes");
SA(NRT_FAIL_HOST_MEM_ALLOC == 11 && NRT_UNSUPPORTED_NEFF_VERSION == 10, "codes");
SA(NRT_TENSOR_PLACEMENT_VIRTUAL == 2 && NRT_FRAMEWORK_TYPE_PRECHECK == 5, "enums");
SA(NRT_INSTANCE_TRN3PDS98 == 15 && NRT_INSTANCE_SIZE_3XL == 8, "instance");
SA(NRT_INSTANCE_SIZE_UNKNOWN == 9 && NRT_INSTANCE_SIZE_NUM == 9, "instance");
SA(NRT_OP_INVALID == 15 && NRT_CC_REDUCESCATTER == 2, "ops");
SA(NRT_DTYPE_UINT64 == 1 && NRT_DTYPE_BFLOAT16 == 6 && NRT_DTYPE_FLOAT16 == 7, "dtype");
SA(NRT_DTYPE_FLOAT32 == 10 && NRT_DTYPE_FP32R == 11 && NRT_DTYPE_INT64 == 12, "dtype");
SA(NRT_DTYPE_FP8_E5 == 15 && NRT_TENSOR_USAGE_OUTPUT == 1, "dtype");
SA(NRT_TENSOR_NAME_MAX == 256 && RT_VERSION_DETAIL_LEN == 128 && GIT_HASH_LEN == 64, "consts");
SA(NRT_MAJOR_VERSION == 2 && NRT_MINOR_VERSION == 0, "api version");
SA(sizeof(nrt_instance_info_t) == 32 && _Alignof(nrt_instance_info_t) == 4, "instance info");
OFF(nrt_instance_info_t, arch_name, 8); OFF(nrt_instance_info_t, device_revision, 24);
SA(sizeof(nrt_tensor_batch_op_t) == 24, "batch op"); OFF(nrt_tensor_batch_op_t, buffer, 16);
SA(sizeof(nrt_tensor_batch_t) == 24, "batch"); OFF(nrt_tensor_batch_t, num_ops, 16);
SA(sizeof(nrt_tensor_device_allocation_info_t) == 24, "alloc info");
OFF(nrt_tensor_device_allocation_info_t, hbm_index, 16);
SA(sizeof(nrt_vnc_memory_stats_t) == 16, "mem stats");
SA(sizeof(nrt_cc_comm_t) == 32, "cc comm"); OFF(nrt_cc_comm_t, rank, 8); OFF(nrt_cc_comm_t, vnc, 24);
SA(sizeof(nrt_tensor_list_t) == 16, "tensor list"); OFF(nrt_tensor_list_t, num_tensors, 8);
SA(sizeof(nrt_version_t) == 224, "version"); OFF(nrt_version_t, rt_detail, 32); OFF(nrt_version_t, git_hash, 160);
SA(sizeof(nrt_tensor_info_t) == 296 && _Alignof(nrt_tensor_info_t) == 8, "tensor info");
OFF(nrt_tensor_info_t, usage, 256); OFF(nrt_tensor_info_t, size, 264); OFF(nrt_tensor_info_t, dtype, 272);
OFF(nrt_tensor_info_t, shape, 280); OFF(nrt_tensor_info_t, ndim, 288);
SA(sizeof(nrt_tensor_info_array_t) == 8, "info array"); OFF(nrt_tensor_info_array_t, tensor_array, 8);
SA(sizeof(nrt_model_info_t) == 4, "model info");
SA(sizeof(nrt_ucode_img) == 16 && sizeof(nrt_ucode_info) == 32, "ucode"); OFF(nrt_ucode_info, dram, 16);
int main(void) { return 0; }
"#;
    // `_Alignof` is C11; C++17 spells it `alignof`.
    compile(false, "abi", checks);
    compile(true, "abi", &checks.replace("_Alignof", "alignof"));
}

#[test]
fn a_c_program_links_and_runs_against_the_library() {
    let lib = nrt_emu::library_path(&nrt_emu::selected_generation());
    let lib_dir = lib.parent().expect("lib dir");
    assert!(
        lib.exists(),
        "{} (run `cargo build --workspace`)",
        lib.display()
    );
    let dir = std::env::temp_dir().join(format!("nrt-emu-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("version.c");
    std::fs::write(
        &src,
        r#"#include "nrt/nrt.h"
#include "nrt/nrt_version.h"
#include <stdio.h>
int main(void) {
    nrt_version_t v;
    uint32_t n = 0;
    if (nrt_get_version(&v, sizeof v) != NRT_SUCCESS) return 1;
    if (nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", "") != NRT_SUCCESS) return 2;
    if (nrt_get_visible_vnc_count(&n) != NRT_SUCCESS) return 3;
    nrt_close();
    printf("%llu.%llu %u %s\n", (unsigned long long)v.rt_major, (unsigned long long)v.rt_minor, n,
           nrt_get_status_as_str(NRT_QUEUE_FULL));
    return 0;
}
"#,
    )
    .unwrap();
    let exe = dir.join("version");
    let out = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(include_dir())
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lnrt")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "link: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe)
        .env("LD_LIBRARY_PATH", lib_dir)
        .env_remove("NEURON_RT_VISIBLE_CORES")
        .env_remove("NEURON_RT_NUM_CORES")
        .env_remove("NRT_EMU_TOTAL_CORES")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "run: {stdout} {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let minor = match nrt_emu::selected_generation().as_str() {
        "2.29" => 31,
        "2.30" => 32,
        _ => 30,
    };
    assert!(
        stdout.starts_with(&format!("2.{minor} 2 NRT_QUEUE_FULL")),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
