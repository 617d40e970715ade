package nrtq

/*
#include <stdlib.h>
#include <nrtq.h>
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Generation is the explicit-async generation of the loaded libnrt.
type Generation uint32

// The generations nrtq drives.
const (
	Generation228 Generation = C.NRTQ_GENERATION_2_28 // error tracker, completion handles
	Generation229 Generation = C.NRTQ_GENERATION_2_29 // per-request status, no notification fd
	Generation230 Generation = C.NRTQ_GENERATION_2_30 // per-request status, eventfds
)

// Runtime is an nrtq_runtime: one loaded libnrt and the completion thread serving its
// queues. Close it after every Model (and so every Queue and TensorSet) made from it.
//
// Only one runtime that initialises libnrt (the default) may be open in a process at a
// time: libnrt has one global state.
type Runtime struct {
	p *C.nrtq_runtime

	ownsLibnrt bool          // Open called nrt_init, so Close's nrt_close stops every device unit
	frees      deferredFrees // host-buffer staging memory abandoned on a device, freed at Close

	mu     sync.Mutex
	models int // models loaded through this runtime and not yet closed
	pools  int // pools created on this runtime and not yet closed
	closed bool
}

type runtimeConfig struct {
	library string
	init    bool
}

// RuntimeOption is a setting for Open.
type RuntimeOption func(*runtimeConfig)

// WithLibrary loads libnrt from path instead of the default search (symbols already in
// the process, which a program linked with -lnrt has, then $NRTQ_LIBNRT, then
// libnrt.so.1 on the loader path, then /opt/aws/neuron/lib/libnrt.so.1).
func WithLibrary(path string) RuntimeOption {
	return func(c *runtimeConfig) { c.library = path }
}

// WithInit says whether nrtq calls nrt_init at Open and nrt_close at Close (default
// true). Pass false when the program initialises libnrt itself.
func WithInit(init bool) RuntimeOption {
	return func(c *runtimeConfig) { c.init = init }
}

// Open opens a runtime over libnrt.
func Open(opts ...RuntimeOption) (*Runtime, error) {
	cfg := runtimeConfig{init: true}
	for _, o := range opts {
		o(&cfg)
	}
	var path *C.char
	if cfg.library != "" {
		path = C.CString(cfg.library)
		defer C.free(unsafe.Pointer(path))
	}
	var p *C.nrtq_runtime
	if err := call("nrtq_runtime_open", func() C.nrtq_status {
		return C.nrtq_runtime_open(path, C.bool(cfg.init), &p)
	}); err != nil {
		return nil, err
	}
	return &Runtime{p: p, ownsLibnrt: cfg.init}, nil
}

// Generation is the loaded libnrt's async generation.
func (r *Runtime) Generation() (Generation, error) {
	if err := r.usable("Generation"); err != nil {
		return 0, err
	}
	var g C.nrtq_generation
	err := call("nrtq_runtime_generation", func() C.nrtq_status {
		return C.nrtq_runtime_generation(r.p, &g)
	})
	return Generation(g), err
}

// Version is the loaded libnrt's version string, e.g. "2.30.50.0".
func (r *Runtime) Version() (string, error) {
	if err := r.usable("Version"); err != nil {
		return "", err
	}
	var n C.size_t
	if err := call("nrtq_runtime_version", func() C.nrtq_status {
		return C.nrtq_runtime_version(r.p, nil, 0, &n)
	}); err != nil {
		return "", err
	}
	buf := make([]C.char, n+1)
	if err := call("nrtq_runtime_version", func() C.nrtq_status {
		return C.nrtq_runtime_version(r.p, &buf[0], C.size_t(len(buf)), nil)
	}); err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// usable refuses use of a closed runtime (its C handle is gone).
func (r *Runtime) usable(op string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return &Error{Op: op, Status: StatusClosed, Message: "the runtime is closed"}
	}
	return nil
}

// adopt counts a model against the runtime; false when the runtime is closed.
func (r *Runtime) adopt() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.models++
	return true
}

func (r *Runtime) release() {
	r.mu.Lock()
	r.models--
	r.mu.Unlock()
}

// Close closes the runtime: nrtq's completion thread stops and, if Open initialised
// libnrt, libnrt is closed. Refused with ErrBusy while models loaded through it are
// still open (close their queues and tensor sets, then the models, first).
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return &Error{Op: "Runtime.Close", Status: StatusClosed, Message: "already closed"}
	}
	if r.pools > 0 {
		return &Error{Op: "Runtime.Close", Status: StatusBusy,
			Message: fmt.Sprintf("%d pool(s) still open: close them first", r.pools)}
	}
	if r.models > 0 {
		return &Error{Op: "Runtime.Close", Status: StatusBusy,
			Message: fmt.Sprintf("%d model(s) still open: close their queues and tensor sets, then the models", r.models)}
	}
	if err := call("nrtq_runtime_close", func() C.nrtq_status {
		return C.nrtq_runtime_close(r.p)
	}); err != nil {
		return err
	}
	r.closed = true
	r.p = nil
	r.releaseAbandoned()
	return nil
}

// freeAfterClose keeps C memory a device unit may still copy to or from until Close.
func (r *Runtime) freeAfterClose(mem unsafe.Pointer) {
	if mem == nil {
		return
	}
	r.frees.mu.Lock()
	r.frees.mem = append(r.frees.mem, mem)
	r.frees.mu.Unlock()
}

// releaseAbandoned frees the memory kept by freeAfterClose, once nrt_close has stopped
// every unit. When the program owns libnrt (WithInit(false)) the units run on after
// Close, so the memory is left allocated: a deliberate leak, only after failures.
func (r *Runtime) releaseAbandoned() {
	r.frees.mu.Lock()
	defer r.frees.mu.Unlock()
	if r.ownsLibnrt {
		for _, mem := range r.frees.mem {
			C.free(mem)
		}
	}
	r.frees.mem = nil
}

// adoptPool counts a pool against the runtime; false when the runtime is closed.
func (r *Runtime) adoptPool(delta int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed && delta > 0 {
		return false
	}
	r.pools += delta
	return true
}
