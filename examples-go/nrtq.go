// The cgo edge of the demo: every C call lives in this file, so main.go is plain Go.
//
// Build flags (see README.md in this folder):
//   - libnrtq comes from pkg-config: the build tree's uninstalled nrtq.pc
//     (PKG_CONFIG_PATH=target/<profile>/pkgconfig) or an installed one.
//   - The libnrt headers default to the emulator's, which are ABI-identical to the
//     vendor's; a real install passes CGO_CFLAGS=-I/opt/aws/neuron/include, which the
//     compiler searches first because cgo puts CGO_CFLAGS before the #cgo lines.
//   - The folder holding libnrt.so is not written here: it depends on the cargo profile
//     and on the generation (or on the Neuron install), so the build passes it in
//     CGO_LDFLAGS ("-L<dir> -Wl,-rpath,<dir>").
//
// No C helper functions are needed: cgo calls the libnrt and nrtq functions directly, Go
// reads the model file, and the reap descriptor is waited on by Go's own netpoller.

package main

/*
#cgo pkg-config: nrtq
#cgo CFLAGS: -I${SRCDIR}/../nrt-emu/include
#cgo LDFLAGS: -lnrt
#include <stdlib.h>
#include <nrt/nrt.h>
#include <nrtq.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Status is an nrtq_status. The code is the truth; a message only adds detail.
type Status uint32

// The statuses this program acts on by value.
const (
	StatusOK          Status = C.NRTQ_OK
	StatusBacklogFull Status = C.NRTQ_BACKLOG_FULL
	StatusTimeout     Status = C.NRTQ_TIMEOUT
	StatusInvalid     Status = C.NRTQ_ERR_INVALID
)

// String is the library's static description of the code (no thread state involved).
func (s Status) String() string {
	return C.GoString(C.nrtq_status_str(C.uint32_t(s)))
}

// Error is a failed nrtq call: its status and, for real failures, the calling thread's
// nrtq_last_error() read right after it.
type Error struct {
	Op     string
	Status Status
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.Status)
	}
	return fmt.Sprintf("%s: %v (%s)", e.Op, e.Status, e.Detail)
}

// IsStatus reports whether err is an nrtq *Error carrying status s.
func IsStatus(err error, s Status) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == s
}

// call runs one nrtq call and turns a non-OK status into an *Error. nrtq_last_error is per
// OS thread and a goroutine may move between threads at any point outside a cgo call, so
// the call and the read of the message are pinned to one thread. "Not now" codes (1-99:
// backlog full, timeout) are not failures and carry no message worth a string copy.
func call(op string, f func() C.nrtq_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := Status(f())
	if st == StatusOK {
		return nil
	}
	e := &Error{Op: op, Status: st}
	if st >= 100 {
		e.Detail = C.GoString(C.nrtq_last_error())
	}
	return e
}

// nrtError is a failed libnrt call (the plain runtime API used to load models and make
// tensors); libnrt has no message API, only its NRT_STATUS.
func nrtError(op string, st C.NRT_STATUS) error {
	if st == C.NRT_SUCCESS {
		return nil
	}
	return fmt.Errorf("%s: NRT_STATUS %d", op, int(st))
}

// Runtime is an nrtq_runtime over the libnrt linked into this process.
type Runtime struct{ p *C.nrtq_runtime }

// OpenRuntime opens nrtq over libnrt and lets nrtq call nrt_init (and nrt_close at Close).
func OpenRuntime() (*Runtime, error) {
	var p *C.nrtq_runtime
	err := call("nrtq_runtime_open", func() C.nrtq_status {
		return C.nrtq_runtime_open(nil, C.bool(true), &p)
	})
	if err != nil {
		return nil, err
	}
	return &Runtime{p: p}, nil
}

// Generation is the loaded libnrt's async generation (228, 229 or 230).
func (r *Runtime) Generation() (uint32, error) {
	var g C.nrtq_generation
	err := call("nrtq_runtime_generation", func() C.nrtq_status {
		return C.nrtq_runtime_generation(r.p, &g)
	})
	return uint32(g), err
}

// Version is the loaded libnrt's version string.
func (r *Runtime) Version() (string, error) {
	var buf [64]C.char
	err := call("nrtq_runtime_version", func() C.nrtq_status {
		return C.nrtq_runtime_version(r.p, &buf[0], C.size_t(len(buf)), nil)
	})
	if err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// Close closes the runtime (refused while queues are open).
func (r *Runtime) Close() error {
	return call("nrtq_runtime_close", func() C.nrtq_status { return C.nrtq_runtime_close(r.p) })
}

// ProbeLastError makes one call that must fail (a queue depth of 0) and returns its
// error, to show that the per-thread message reaches Go intact.
func ProbeLastError() error {
	var cfg *C.nrtq_queue_config
	if err := call("nrtq_queue_config_new", func() C.nrtq_status {
		return C.nrtq_queue_config_new(&cfg)
	}); err != nil {
		return err
	}
	defer C.nrtq_queue_config_free(cfg)
	return call("nrtq_queue_config_set_depth", func() C.nrtq_status {
		return C.nrtq_queue_config_set_depth(cfg, 0)
	})
}

// Model is a model loaded with the plain libnrt API.
type Model struct{ p *C.nrt_model_t }

// LoadModel reads a model file and loads it on logical core 0.
func LoadModel(path string) (*Model, error) {
	bytes, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(bytes) == 0 {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	// A C copy: nrt_load's contract says nothing about keeping the buffer, so no Go
	// memory is lent to it.
	cbytes := C.CBytes(bytes)
	defer C.free(cbytes)
	var p *C.nrt_model_t
	if err := nrtError("nrt_load", C.nrt_load(cbytes, C.size_t(len(bytes)), 0, -1, &p)); err != nil {
		return nil, err
	}
	return &Model{p: p}, nil
}

// Unload unloads the model (after every queue on it is destroyed).
func (m *Model) Unload() error {
	return nrtError("nrt_unload", C.nrt_unload(m.p))
}

// Elems is the tensor length of the add_f32 family of models (a, b, out: f32[1024]).
const Elems = 1024

// Slot is one request's tensors for an add_f32 model: its own input set {a, b} and
// output set {out}, which must stay untouched while a request on them is in the queue.
type Slot struct {
	a, b, out       *C.nrt_tensor_t
	inputs, outputs unsafe.Pointer // nrt_tensor_set_t *
}

// NewSlot allocates a slot's tensors and tensor sets on logical core 0.
func NewSlot() (*Slot, error) {
	s := &Slot{}
	alloc := func(name string, t **C.nrt_tensor_t) error {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		return nrtError("nrt_tensor_allocate "+name, C.nrt_tensor_allocate(
			C.NRT_TENSOR_PLACEMENT_DEVICE, 0, C.size_t(Elems*4), cname, t))
	}
	add := func(set unsafe.Pointer, name string, t *C.nrt_tensor_t) error {
		cname := C.CString(name)
		defer C.free(unsafe.Pointer(cname))
		return nrtError("nrt_add_tensor_to_tensor_set "+name,
			C.nrt_add_tensor_to_tensor_set(set, cname, t))
	}
	steps := []func() error{
		func() error { return alloc("a", &s.a) },
		func() error { return alloc("b", &s.b) },
		func() error { return alloc("out", &s.out) },
		func() error { return nrtError("nrt_allocate_tensor_set", C.nrt_allocate_tensor_set(&s.inputs)) },
		func() error { return nrtError("nrt_allocate_tensor_set", C.nrt_allocate_tensor_set(&s.outputs)) },
		func() error { return add(s.inputs, "a", s.a) },
		func() error { return add(s.inputs, "b", s.b) },
		func() error { return add(s.outputs, "out", s.out) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			s.Free()
			return nil, err
		}
	}
	return s, nil
}

// writeTensor copies vals into t. The Go slice is lent for the duration of the call
// only (nrt_tensor_write is synchronous) and holds no Go pointers, as cgo requires.
func writeTensor(op string, t *C.nrt_tensor_t, vals []float32) error {
	if len(vals) != Elems {
		return fmt.Errorf("%s: %d values, want %d", op, len(vals), Elems)
	}
	return nrtError(op, C.nrt_tensor_write(t, unsafe.Pointer(&vals[0]), 0, C.size_t(Elems*4)))
}

// WriteA fills input a; WriteB fills input b.
func (s *Slot) WriteA(vals []float32) error { return writeTensor("nrt_tensor_write a", s.a, vals) }

// WriteB fills input b.
func (s *Slot) WriteB(vals []float32) error { return writeTensor("nrt_tensor_write b", s.b, vals) }

// ReadOut copies the output into dst (len Elems).
func (s *Slot) ReadOut(dst []float32) error {
	if len(dst) != Elems {
		return fmt.Errorf("ReadOut: %d values, want %d", len(dst), Elems)
	}
	return nrtError("nrt_tensor_read out",
		C.nrt_tensor_read(s.out, unsafe.Pointer(&dst[0]), 0, C.size_t(Elems*4)))
}

// Free releases whatever the slot holds (each libnrt free call NULLs its argument).
func (s *Slot) Free() {
	if s.inputs != nil {
		C.nrt_destroy_tensor_set(&s.inputs)
	}
	if s.outputs != nil {
		C.nrt_destroy_tensor_set(&s.outputs)
	}
	for _, t := range []**C.nrt_tensor_t{&s.a, &s.b, &s.out} {
		if *t != nil {
			C.nrt_tensor_free(t)
		}
	}
}

// Completion mirrors nrtq_completion field for field (checked in init), so a batch is
// reaped straight into Go memory without a copy.
type Completion struct {
	Ticket    uint64
	UserData  uint64
	Status    Status
	NRTStatus uint32
}

func init() {
	var c Completion
	var cc C.nrtq_completion
	if unsafe.Sizeof(c) != unsafe.Sizeof(cc) ||
		unsafe.Offsetof(c.UserData) != unsafe.Offsetof(cc.user_data) ||
		unsafe.Offsetof(c.Status) != unsafe.Offsetof(cc.status) ||
		unsafe.Offsetof(c.NRTStatus) != unsafe.Offsetof(cc.nrt_status) {
		panic("Completion does not match nrtq_completion")
	}
}

// Queue is a reap-mode nrtq_queue.
type Queue struct{ p *C.nrtq_queue }

// NewReapQueue creates a reap-mode queue for m keeping depth requests on the device and
// up to backlog more in nrtq's software backlog.
func (r *Runtime) NewReapQueue(m *Model, depth, backlog uint32) (*Queue, error) {
	var cfg *C.nrtq_queue_config
	if err := call("nrtq_queue_config_new", func() C.nrtq_status {
		return C.nrtq_queue_config_new(&cfg)
	}); err != nil {
		return nil, err
	}
	defer C.nrtq_queue_config_free(cfg)
	setters := []error{
		call("nrtq_queue_config_set_delivery", func() C.nrtq_status {
			return C.nrtq_queue_config_set_delivery(cfg, C.NRTQ_DELIVERY_REAP)
		}),
		call("nrtq_queue_config_set_depth", func() C.nrtq_status {
			return C.nrtq_queue_config_set_depth(cfg, C.uint32_t(depth))
		}),
		call("nrtq_queue_config_set_backlog", func() C.nrtq_status {
			return C.nrtq_queue_config_set_backlog(cfg, C.uint32_t(backlog))
		}),
	}
	for _, err := range setters {
		if err != nil {
			return nil, err
		}
	}
	var q *C.nrtq_queue
	if err := call("nrtq_queue_create", func() C.nrtq_status {
		return C.nrtq_queue_create(r.p, unsafe.Pointer(m.p), cfg, &q)
	}); err != nil {
		return nil, err
	}
	return &Queue{p: q}, nil
}

// Submit queues one request on s; userData comes back in its completion. Never blocks:
// a full backlog is an *Error with StatusBacklogFull.
func (q *Queue) Submit(s *Slot, userData uint64) (uint64, error) {
	var ticket C.uint64_t
	err := call("nrtq_queue_submit", func() C.nrtq_status {
		return C.nrtq_queue_submit(q.p, s.inputs, s.outputs, nil, C.uint64_t(userData), &ticket)
	})
	return uint64(ticket), err
}

// Reap moves up to len(buf) completions into buf without blocking; returns how many.
func (q *Queue) Reap(buf []Completion) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	var n C.size_t
	err := call("nrtq_queue_reap", func() C.nrtq_status {
		return C.nrtq_queue_reap(q.p, (*C.nrtq_completion)(unsafe.Pointer(&buf[0])),
			C.size_t(len(buf)), &n)
	})
	return int(n), err
}

// Drain waits until nothing is left in the backlog or on the device.
func (q *Queue) Drain(timeout time.Duration) error {
	return call("nrtq_queue_drain", func() C.nrtq_status {
		return C.nrtq_queue_drain(q.p, C.int64_t(timeout.Microseconds()))
	})
}

// Stats is the part of nrtq_stats this program reports.
type Stats struct {
	Submitted, Completed, Failed, QueueFull uint64
	NotifyP50, NotifyP99                    time.Duration
}

// Stats reads the queue's counters.
func (q *Queue) Stats() (Stats, error) {
	var st C.nrtq_stats
	st.struct_size = C.uint64_t(unsafe.Sizeof(st))
	if err := call("nrtq_queue_stats", func() C.nrtq_status {
		return C.nrtq_queue_stats(q.p, &st)
	}); err != nil {
		return Stats{}, err
	}
	return Stats{
		Submitted: uint64(st.submitted),
		Completed: uint64(st.completed),
		Failed:    uint64(st.failed),
		QueueFull: uint64(st.queue_full),
		NotifyP50: time.Duration(st.complete_to_notify_p50_ns),
		NotifyP99: time.Duration(st.complete_to_notify_p99_ns),
	}, nil
}

// Destroy destroys the queue, waiting up to timeout for what the device holds.
func (q *Queue) Destroy(timeout time.Duration) error {
	return call("nrtq_queue_destroy", func() C.nrtq_status {
		return C.nrtq_queue_destroy(q.p, C.int64_t(timeout.Microseconds()))
	})
}

// ReapWaiter puts the queue's reap descriptor into Go's netpoller, the same epoll set
// that serves the program's sockets, so waiting for completions parks a goroutine and no
// OS thread sits blocked in a C poll().
//
// The queue owns its descriptor and closes it at destroy, while an *os.File closes its
// descriptor at Close (or when garbage-collected). So the waiter holds a duplicate:
// closing that never touches the queue's own, and the queue closing its own leaves the
// duplicate valid until Close. The duplicate shares the queue's open file description,
// whose flags are left as they are: Go's poller needs it non-blocking, which the nrtq
// descriptor is; were it not, Run would fail with an error rather than block.
type ReapWaiter struct {
	f       *os.File
	rc      syscall.RawConn
	stopped atomic.Bool
}

// NewReapWaiter duplicates the queue's reap descriptor (close-on-exec) for Go's poller.
func (q *Queue) NewReapWaiter() (*ReapWaiter, error) {
	var fd C.int
	if err := call("nrtq_queue_reap_fd", func() C.nrtq_status {
		return C.nrtq_queue_reap_fd(q.p, &fd)
	}); err != nil {
		return nil, err
	}
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, fmt.Errorf("fcntl(F_DUPFD_CLOEXEC): %w", errno)
	}
	f := os.NewFile(dup, "nrtq-reap")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &ReapWaiter{f: f, rc: rc}, nil
}

// Run calls ready at once and then each time the descriptor turns readable, until ready
// returns true or Stop is called (both give nil). Readable is only a hint, so ready must
// reap until a reap returns nothing before it returns false.
func (w *ReapWaiter) Run(ready func() bool) error {
	err := w.rc.Read(func(uintptr) bool { return ready() })
	if errors.Is(err, os.ErrDeadlineExceeded) && w.stopped.Load() {
		return nil
	}
	return err
}

// Stop wakes a Run in progress (or makes the next one return at once) through a read
// deadline in the past: the poller's own wake-up path, so no extra descriptor is needed.
func (w *ReapWaiter) Stop() error {
	w.stopped.Store(true)
	return w.f.SetReadDeadline(time.Unix(1, 0))
}

// Close releases the duplicate descriptor; call it after Run has returned.
func (w *ReapWaiter) Close() error { return w.f.Close() }
