//! Cross-check with the C compiler: a program compiled against the project's own headers
//! (`nrt-emu/include/nrt/*.h`, ABI-identical to the vendor's SDK 2.28 headers) prints
//! sizeof/_Alignof/offsetof and enum values, which must equal the Rust side's. It runs
//! twice: with the default `NRT_ASYNC_API_VERSION` (2, SDK 2.28: `gen_a`) and with 3
//! (SDK 2.29+: `gen_b`).
//! `NRT_INCLUDE_DIR=/opt/aws/neuron/include` runs the same check against the vendor's headers.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use neuron_sys::*;
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The headers a C client includes (`-I nrt-emu/include`, `#include <nrt/nrt.h>`).
const HEADERS: [&str; 5] = [
    "nrt/nrt.h",
    "nrt/nrt_status.h",
    "nrt/nrt_version.h",
    "nrt/nrt_experimental.h",
    "nrt/nrt_async.h",
];

/// `(C expression, value on the Rust side)`.
type Checks = Vec<(String, u64)>;

macro_rules! layout {
    ($checks:ident, $ty:ident { $($field:ident),* $(,)? }) => {{
        $checks.push((format!("sizeof({})", stringify!($ty)), size_of::<$ty>() as u64));
        $checks.push((format!("_Alignof({})", stringify!($ty)), align_of::<$ty>() as u64));
        $($checks.push((
            format!("offsetof({}, {})", stringify!($ty), stringify!($field)),
            offset_of!($ty, $field) as u64,
        ));)*
    }};
}

macro_rules! values {
    ($checks:ident, $($name:ident),* $(,)?) => {
        $($checks.push((stringify!($name).to_string(), $name as u64));)*
    };
}

fn checks() -> Checks {
    let mut checks = Checks::new();
    layout!(
        checks,
        nrt_version_t {
            rt_major,
            rt_minor,
            rt_patch,
            rt_maintenance,
            rt_detail,
            git_hash
        }
    );
    layout!(
        checks,
        nrt_instance_info_t {
            family,
            size,
            arch_name,
            device_revision
        }
    );
    layout!(
        checks,
        nrt_tensor_info_t {
            name,
            usage,
            size,
            dtype,
            shape,
            ndim
        }
    );
    layout!(
        checks,
        nrt_tensor_info_array_t {
            tensor_count,
            tensor_array
        }
    );
    layout!(checks, nrt_model_info_t { vnc });
    layout!(
        checks,
        nrt_tensor_batch_op_t {
            offset,
            size,
            buffer
        }
    );
    layout!(
        checks,
        nrt_tensor_batch_t {
            tensor,
            ops,
            num_ops
        }
    );
    layout!(
        checks,
        nrt_tensor_device_allocation_info_t {
            physical_address,
            size,
            hbm_index
        }
    );
    layout!(
        checks,
        nrt_vnc_memory_stats_t {
            bytes_used,
            bytes_limit
        }
    );
    layout!(
        checks,
        nrt_cc_comm_t {
            replica_group,
            rank,
            rank_n,
            ctx_device_id,
            ctx_device_count,
            vnc
        }
    );
    layout!(
        checks,
        nrt_tensor_list_t {
            tensors,
            num_tensors
        }
    );
    layout!(checks, nrt_ucode_img { bin, size });
    layout!(checks, nrt_ucode_info { iram, dram });
    for (c_type, size) in [
        ("NRT_STATUS", size_of::<NRT_STATUS>()),
        (
            "nrt_tensor_placement_t",
            size_of::<nrt_tensor_placement_t>(),
        ),
        ("nrt_tensor_usage_t", size_of::<nrt_tensor_usage_t>()),
        ("nrt_framework_type_t", size_of::<nrt_framework_type_t>()),
        ("nrt_dtype_t", size_of::<nrt_dtype_t>()),
        ("nrta_xu_t", size_of::<nrta_xu_t>()),
        ("nrta_seq_t", size_of::<nrta_seq_t>()),
        ("nrta_xu_id_t", size_of::<nrta_xu_id_t>()),
    ] {
        checks.push((format!("sizeof({c_type})"), size as u64));
    }

    // Every status code by its name, straight from the Rust table.
    for value in 0..2000 {
        if let Some(name) = status_name(value) {
            checks.push((name.to_string(), u64::from(value)));
        }
    }
    values!(
        checks,
        NRT_TENSOR_PLACEMENT_DEVICE,
        NRT_TENSOR_PLACEMENT_HOST,
        NRT_TENSOR_PLACEMENT_VIRTUAL,
        NRT_TENSOR_USAGE_INPUT,
        NRT_TENSOR_USAGE_OUTPUT,
        NRT_FRAMEWORK_TYPE_INVALID,
        NRT_FRAMEWORK_TYPE_NO_FW,
        NRT_FRAMEWORK_TYPE_TENSORFLOW,
        NRT_FRAMEWORK_TYPE_PYTORCH,
        NRT_FRAMEWORK_TYPE_MXNET,
        NRT_FRAMEWORK_TYPE_PRECHECK,
        NRT_DTYPE_UNKNOWN,
        NRT_DTYPE_INVALID,
        NRT_DTYPE_UINT64,
        NRT_DTYPE_INT8,
        NRT_DTYPE_UINT8,
        NRT_DTYPE_INT16,
        NRT_DTYPE_UINT16,
        NRT_DTYPE_BFLOAT16,
        NRT_DTYPE_FLOAT16,
        NRT_DTYPE_INT32,
        NRT_DTYPE_UINT32,
        NRT_DTYPE_FLOAT32,
        NRT_DTYPE_FP32R,
        NRT_DTYPE_INT64,
        NRT_DTYPE_FP8_E3,
        NRT_DTYPE_FP8_E4,
        NRT_DTYPE_FP8_E5,
        NRT_OP_ADD,
        NRT_OP_FMA,
        NRT_OP_MAX,
        NRT_OP_MIN,
        NRT_OP_INVALID,
        NRT_CC_ALLGATHER,
        NRT_CC_ALLREDUCE,
        NRT_CC_REDUCESCATTER,
        NRT_INSTANCE_UNKNOWN,
        NRT_INSTANCE_INF1,
        NRT_INSTANCE_TRN1,
        NRT_INSTANCE_TRN1N,
        NRT_INSTANCE_INF2,
        NRT_INSTANCE_TRN2,
        NRT_INSTANCE_TRN2N,
        NRT_INSTANCE_INF2E,
        NRT_INSTANCE_TRN2P,
        NRT_INSTANCE_TRN2U,
        NRT_INSTANCE_TRN2E,
        NRT_INSTANCE_TRN2EU,
        NRT_INSTANCE_TRN2AC,
        NRT_INSTANCE_TRN2UAC,
        NRT_INSTANCE_TRN3,
        NRT_INSTANCE_TRN3PDS98,
        NRT_INSTANCE_SIZE_1XL,
        NRT_INSTANCE_SIZE_2XL,
        NRT_INSTANCE_SIZE_4XL,
        NRT_INSTANCE_SIZE_6XL,
        NRT_INSTANCE_SIZE_8XL,
        NRT_INSTANCE_SIZE_24XL,
        NRT_INSTANCE_SIZE_32XL,
        NRT_INSTANCE_SIZE_48XL,
        NRT_INSTANCE_SIZE_3XL,
        NRT_INSTANCE_SIZE_UNKNOWN,
        NRT_INSTANCE_SIZE_NUM,
        NRT_MAJOR_VERSION,
        NRT_MINOR_VERSION,
        NRT_TENSOR_NAME_MAX,
        RT_VERSION_DETAIL_LEN,
        GIT_HASH_LEN,
        NRTA_SEQ_NUM_MAX,
        NRTA_SEQ_NUM_MASK,
    );
    // The sequence macros do not parenthesise their argument, so pass a parenthesised one.
    let seq: nrta_seq_t = 0xBEEF_0000_0000_0001 | 0x1234_5678;
    checks.push((
        format!("NRTA_SEQ_GET_XU_ID((0x{seq:x}ull))"),
        nrta_seq_get_xu_id(seq).into(),
    ));
    checks.push((
        format!("NRTA_SEQ_GET_SEQ_NUM((0x{seq:x}ull))"),
        nrta_seq_get_seq_num(seq),
    ));
    checks
}

/// What differs between `-DNRT_ASYNC_API_VERSION=2` (SDK 2.28, the default) and `=3`
/// (SDK 2.29+): the XU numbering, and the tracker entry that exists only in 2.28.
fn async_checks(api: u32) -> Checks {
    let mut checks = Checks::new();
    if api == 2 {
        use neuron_sys::gen_a::*;
        layout!(checks, nrta_error_t { seq_id, error_code });
        values!(
            checks,
            NRTA_XU_TENSOR_READ,
            NRTA_XU_TENSOR_WRITE,
            NRTA_XU_TENSOR_OP,
            NRTA_XU_COMPUTE,
            NRTA_XU_COLLECTIVES,
            NRTA_XU_TYPE_NUM,
        );
    } else {
        use neuron_sys::gen_b::*;
        values!(
            checks,
            NRTA_XU_TENSOR_OP,
            NRTA_XU_COMPUTE,
            NRTA_XU_COLLECTIVES,
            NRTA_XU_TYPE_NUM,
        );
    }
    checks
}

fn c_program(checks: &Checks) -> String {
    let mut src = String::from("#include <assert.h>\n#include <stddef.h>\n#include <stdio.h>\n");
    for header in HEADERS {
        writeln!(src, "#include <{header}>").unwrap();
    }
    src.push_str("int main(void) {\n");
    for (expr, _) in checks {
        writeln!(
            src,
            "    printf(\"%llu\\n\", (unsigned long long)({expr}));"
        )
        .unwrap();
    }
    src.push_str("    return 0;\n}\n");
    src
}

/// The project's headers, or the folder named by `NRT_INCLUDE_DIR` (for instance
/// `/opt/aws/neuron/include`, to check against the vendor's own headers).
fn include_dir() -> PathBuf {
    match std::env::var_os("NRT_INCLUDE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../nrt-emu/include"),
    }
}

#[test]
fn rust_layouts_and_values_match_the_c_headers() {
    let include = include_dir();
    let missing: Vec<&str> = HEADERS
        .iter()
        .copied()
        .filter(|h| !include.join(h).exists())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "NOTE: skipping the C cross-check: {} not written yet under {}",
            missing.join(", "),
            include.display()
        );
        return;
    }

    // The vendor's 2.28 headers know only the default API; ours take both.
    let apis: &[u32] = if std::env::var_os("NRT_INCLUDE_DIR").is_some() {
        &[2]
    } else {
        &[2, 3]
    };
    for &api in apis {
        let mut checks = checks();
        checks.extend(async_checks(api));
        compare_with_c(&include, api, &checks);
    }
}

/// Compiles and runs the program for `checks` with `-DNRT_ASYNC_API_VERSION=api` and
/// asserts every printed value equals the Rust one.
fn compare_with_c(include: &Path, api: u32, checks: &Checks) {
    let dir =
        std::env::temp_dir().join(format!("neuron-sys-c-layout-{}-{api}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    let binary = dir.join("layout");
    std::fs::write(&source, c_program(checks)).unwrap();

    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let compiled = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra"])
        .arg(format!("-DNRT_ASYNC_API_VERSION={api}"))
        .arg("-o")
        .arg(&binary)
        .arg("-I")
        .arg(include)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    let run = compiled
        .status
        .success()
        .then(|| Command::new(&binary).output().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        compiled.status.success(),
        "the C cross-check program (API {api}) does not compile against {}:\n{}",
        include.display(),
        String::from_utf8_lossy(&compiled.stderr)
    );
    let run = run.unwrap();
    assert!(
        run.status.success(),
        "the C cross-check program (API {api}) failed"
    );
    let printed: Vec<u64> = String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(printed.len(), checks.len());
    let mismatches: Vec<String> = checks
        .iter()
        .zip(&printed)
        .filter(|((_, rust), c)| rust != *c)
        .map(|((expr, rust), c)| format!("{expr}: C says {c}, Rust says {rust}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "C (API {api}) and Rust disagree:\n{}",
        mismatches.join("\n")
    );
    eprintln!(
        "API {api}: {} layout and value checks agree with the C compiler",
        checks.len()
    );
}
