/*
 * nrt_version.h - version of the Neuron Runtime library, as emulated by nrt-emu.
 * ABI-identical to the vendor's SDK 2.28 header; the wording is nrt-emu's own. Unlike
 * the vendor's, this header includes what it uses, so it compiles on its own.
 */
#ifndef NRT_VERSION_H
#define NRT_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "nrt/nrt_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_VERSION_DETAIL_LEN 128
#define GIT_HASH_LEN 64

/** The runtime library's version (libnrt's own numbering, not the SDK's). */
typedef struct nrt_version {
    uint64_t rt_major;
    uint64_t rt_minor;
    uint64_t rt_patch;
    uint64_t rt_maintenance;
    char rt_detail[RT_VERSION_DETAIL_LEN]; /* NUL-terminated description */
    char git_hash[GIT_HASH_LEN];           /* NUL-terminated build id */
} nrt_version_t;

/**
 * Fill *ver. Pass size = sizeof(nrt_version_t); a smaller size gets the leading fields
 * that fit (the struct only grows at its end). Callable at any time.
 * nrt-emu: rt_major.rt_minor is 2.30 for the SDK 2.28 library, 2.31 for 2.29 and 2.32
 * for 2.30, as the vendor's libraries of those SDKs; rt_detail names nrt-emu and the
 * emulated generation.
 * Returns NRT_INVALID for a NULL ver or a size of 0.
 */
NRT_STATUS nrt_get_version(nrt_version_t *ver, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* NRT_VERSION_H */
