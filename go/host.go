package nrtq

/*
#include <stdlib.h>
#include <string.h>
#include <nrtq.h>
*/
import "C"

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// HostBuffer is one host buffer of a pipeline or pool-of-pipelines request: the Go
// memory of one model input (or output), named by the tensor's name or, when the name
// is empty, by its position among the model's inputs (or outputs). Its size must be
// exactly the tensor's. Make one with Bytes, BytesAt, Values or ValuesAt.
//
// # Memory
//
// nrtq keeps a request's host buffers until the request completes, longer than the
// submit call, and cgo forbids C from keeping Go pointers past a call. The module builds
// with Go 1.19, which has no runtime.Pinner, so nothing of the caller's Go memory is
// handed to nrtq: SubmitHost copies the inputs into C memory (malloc) before submitting,
// nrtq writes the outputs into C memory as well, and the package copies them into the
// caller's output slices on the goroutine that resolves the request, before its Done
// channel closes. Hence:
//
//   - the input slices may be reused as soon as SubmitHost returns (a request re-run on
//     another core of a pool is rewritten from the C copy, not from them);
//   - the output slices must not be read or written until Done is closed; after a
//     successful request they hold the outputs, after a failed one they are untouched;
//   - a request nrtq gave up on while a device unit may still copy to or from its
//     buffers (ErrDeadline, ErrPanic, ErrQueueFailed, ErrCancelled with NRTTimeout)
//     leaves its C memory alone until Runtime.Close has closed the runtime, which frees
//     it then.
//
// The cost is one extra host copy of each tensor per request.
type HostBuffer struct {
	name  string
	index int
	data  unsafe.Pointer // the caller's Go memory: copied from (inputs) or into (outputs)
	size  int
	kind  reflect.Kind // the element kind of a typed buffer, Invalid for bytes
}

// Bytes is the buffer data for the tensor called name.
func Bytes(name string, data []byte) HostBuffer {
	return HostBuffer{name: name, data: bytesPointer(data), size: len(data)}
}

// BytesAt is the buffer data for the tensor at position index.
func BytesAt(index int, data []byte) HostBuffer {
	return HostBuffer{index: index, data: bytesPointer(data), size: len(data)}
}

// Values is the buffer values for the tensor called name; where the tensor's element
// type is known (a Pipeline), it is checked against T.
func Values[T Element](name string, values []T) HostBuffer {
	p, n := slicePointer(values)
	var zero T
	return HostBuffer{name: name, data: p, size: n, kind: reflect.TypeOf(zero).Kind()}
}

// ValuesAt is the buffer values for the tensor at position index, as Values.
func ValuesAt[T Element](index int, values []T) HostBuffer {
	b := Values("", values)
	b.index = index
	return b
}

func (b HostBuffer) String() string {
	if b.name != "" {
		return fmt.Sprintf("%q (%d bytes)", b.name, b.size)
	}
	return fmt.Sprintf("#%d (%d bytes)", b.index, b.size)
}

// checkKinds refuses a typed buffer whose element kind cannot carry its tensor's
// elements. Sizes, names and indices are nrtq's to check (its message names the tensor
// with both sizes); a buffer that names no tensor is left to it too.
func checkKinds(op string, bufs []HostBuffer, infos []TensorInfo) error {
	for _, b := range bufs {
		if b.kind == reflect.Invalid {
			continue
		}
		var info *TensorInfo
		for i := range infos {
			if (b.name != "" && infos[i].Name == b.name) || (b.name == "" && i == b.index) {
				info = &infos[i]
				break
			}
		}
		if info != nil && !elementFits(b.kind, info.DType) {
			return misuse(op, "%v: its elements are %v, not %v", *info, info.DType, b.kind)
		}
	}
	return nil
}

// hostRequest is the C memory behind one request's host buffers: the inputs' copies
// then room for the outputs, in one allocation.
type hostRequest struct {
	rt   *Runtime       // frees mem at Close when the request was abandoned on a device
	mem  unsafe.Pointer // C memory, nil when the request has no bytes at all
	outs []hostOutput
}

// hostOutput is where one output lands in the C memory and where it goes in Go.
type hostOutput struct {
	offset, size int
	dst          unsafe.Pointer
}

// stagedCall is a submit's C view of the buffers: the descriptor arrays and names in C
// memory, valid for the submit call only (nrtq reads the descriptors and names during
// the call and keeps only the data pointers).
type stagedCall struct {
	ins, outs   *C.nrtq_host_buffer
	nIn, nOut   C.size_t
	allocations []unsafe.Pointer
}

func (s *stagedCall) release() {
	for _, a := range s.allocations {
		C.free(a)
	}
}

// stageHost copies the inputs into fresh C memory and lays out the outputs after them.
// The caller submits with call's arrays, then releases call; the request owns req.
func stageHost(op string, rt *Runtime, ins, outs []HostBuffer) (*hostRequest, *stagedCall, error) {
	total := 0
	for _, side := range [][]HostBuffer{ins, outs} {
		for _, b := range side {
			if b.name == "" && b.index < 0 {
				return nil, nil, misuse(op, "buffer %v: a negative tensor index", b)
			}
			total += b.size
		}
	}
	req := &hostRequest{rt: rt}
	// cgo's C.malloc never returns nil: it crashes the program when C is out of memory,
	// as a failed Go allocation would.
	if total > 0 {
		req.mem = C.malloc(C.size_t(total))
	}
	call := &stagedCall{nIn: C.size_t(len(ins)), nOut: C.size_t(len(outs))}
	describe := func(bufs []HostBuffer, offset int, input bool) (*C.nrtq_host_buffer, int) {
		if len(bufs) == 0 {
			return nil, offset
		}
		descs := (*C.nrtq_host_buffer)(C.malloc(C.size_t(len(bufs) * C.sizeof_nrtq_host_buffer)))
		call.allocations = append(call.allocations, unsafe.Pointer(descs))
		for i, b := range bufs {
			d := (*C.nrtq_host_buffer)(unsafe.Add(unsafe.Pointer(descs), i*C.sizeof_nrtq_host_buffer))
			*d = C.nrtq_host_buffer{}
			if b.name != "" {
				d.name = C.CString(b.name)
				call.allocations = append(call.allocations, unsafe.Pointer(d.name))
			}
			d.index = C.uint32_t(b.index)
			d.size = C.size_t(b.size)
			if b.size > 0 {
				d.data = unsafe.Add(req.mem, offset)
				if input {
					copy(unsafe.Slice((*byte)(d.data), b.size), unsafe.Slice((*byte)(b.data), b.size))
				} else {
					req.outs = append(req.outs, hostOutput{offset: offset, size: b.size, dst: b.data})
				}
			}
			offset += b.size
		}
		return descs, offset
	}
	offset := 0
	call.ins, offset = describe(ins, offset, true)
	call.outs, _ = describe(outs, offset, false)
	return req, call, nil
}

// finish ends a request's use of its C memory: on success the outputs are copied into
// the caller's slices; the memory is freed, unless nrtq says a device unit may still
// copy to or from it, in which case Runtime.Close frees it once the runtime is closed.
func (h *hostRequest) finish(c Completion) {
	if c.Status == StatusOK {
		for _, o := range h.outs {
			copy(unsafe.Slice((*byte)(o.dst), o.size), unsafe.Slice((*byte)(unsafe.Add(h.mem, o.offset)), o.size))
		}
	}
	if mayStillBeCopied(c) {
		h.rt.freeAfterClose(h.mem)
		h.mem = nil
		return
	}
	h.free()
}

// mayStillBeCopied: the completions after which nrtq's header says a unit may still
// copy to or from the request's buffers. ErrQueueFailed counts whatever stage it was
// at: only the dead unit's stage is unsafe, and telling which costs a stage-error read
// that would take the entry from the caller's StageErrors.
func mayStillBeCopied(c Completion) bool {
	switch c.Status {
	case StatusDeadline, StatusPanic, StatusQueueFailed:
		return true
	case StatusCancelled:
		return c.NRTStatus == NRTTimeout
	}
	return false
}

func (h *hostRequest) free() {
	if h.mem != nil {
		C.free(h.mem)
		h.mem = nil
	}
}

// deferredFrees is staging memory left to a device by abandoned requests, per runtime.
type deferredFrees struct {
	mu  sync.Mutex
	mem []unsafe.Pointer
}
