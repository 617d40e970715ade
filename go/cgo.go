package nrtq

// The build flags live here, once for the package.
//
// Everything comes from pkg-config's nrtq package: libnrtq's header and library, and
// libnrt's headers (nrt/nrt.h, nrt/nrt_experimental.h) and library, which this package
// calls directly for models and tensors (nrt_load, nrt_tensor_*). -lnrt is named here
// as well because this package is itself a direct user of libnrt; where it is found
// (-L, an rpath) is left to pkg-config or to CGO_LDFLAGS, since it depends on the
// install: the emulator's prefix or /opt/aws/neuron.

/*
#cgo pkg-config: nrtq
#cgo LDFLAGS: -lnrt
#include <nrtq.h>
*/
import "C"
