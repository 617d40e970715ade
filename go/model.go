package nrtq

/*
#include <stdlib.h>
#include <nrt/nrt.h>
#include <nrt/nrt_experimental.h>

// The tensor info array ends in a flexible array member, which cgo does not expose.
static nrt_tensor_info_t *nrtq_go_tensor_info_at(nrt_tensor_info_array_t *a, uint64_t i) {
	return &a->tensor_array[i];
}
*/
import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// DType is a tensor's element type, libnrt's nrt_dtype_t.
type DType uint32

// libnrt's element types.
const (
	DTypeUnknown  DType = C.NRT_DTYPE_UNKNOWN
	DTypeUint64   DType = C.NRT_DTYPE_UINT64
	DTypeInt8     DType = C.NRT_DTYPE_INT8
	DTypeUint8    DType = C.NRT_DTYPE_UINT8
	DTypeInt16    DType = C.NRT_DTYPE_INT16
	DTypeUint16   DType = C.NRT_DTYPE_UINT16
	DTypeBfloat16 DType = C.NRT_DTYPE_BFLOAT16
	DTypeFloat16  DType = C.NRT_DTYPE_FLOAT16
	DTypeInt32    DType = C.NRT_DTYPE_INT32
	DTypeUint32   DType = C.NRT_DTYPE_UINT32
	DTypeFloat32  DType = C.NRT_DTYPE_FLOAT32
	DTypeFP32R    DType = C.NRT_DTYPE_FP32R
	DTypeInt64    DType = C.NRT_DTYPE_INT64
	DTypeFP8E3    DType = C.NRT_DTYPE_FP8_E3
	DTypeFP8E4    DType = C.NRT_DTYPE_FP8_E4
	DTypeFP8E5    DType = C.NRT_DTYPE_FP8_E5
)

var dtypeNames = map[DType]string{
	DTypeUnknown: "unknown", DTypeUint64: "u64", DTypeInt8: "i8", DTypeUint8: "u8",
	DTypeInt16: "i16", DTypeUint16: "u16", DTypeBfloat16: "bf16", DTypeFloat16: "f16",
	DTypeInt32: "i32", DTypeUint32: "u32", DTypeFloat32: "f32", DTypeFP32R: "fp32r",
	DTypeInt64: "i64", DTypeFP8E3: "fp8e3", DTypeFP8E4: "fp8e4", DTypeFP8E5: "fp8e5",
}

func (d DType) String() string {
	if name, ok := dtypeNames[d]; ok {
		return name
	}
	return fmt.Sprintf("dtype %#x", uint32(d))
}

// Usage says whether a model tensor is an input or an output.
type Usage uint32

// Tensor usages.
const (
	Input  Usage = C.NRT_TENSOR_USAGE_INPUT
	Output Usage = C.NRT_TENSOR_USAGE_OUTPUT
)

func (u Usage) String() string {
	if u == Input {
		return "input"
	}
	return "output"
}

// TensorInfo describes one input or output of a model, as nrt_get_model_tensor_info
// gives it.
type TensorInfo struct {
	Name  string // the key a tensor set holds it under
	Usage Usage
	Size  int // bytes
	DType DType
	Shape []uint32
}

func (t TensorInfo) String() string {
	return fmt.Sprintf("%s %q %v%v (%d bytes)", t.Usage, t.Name, t.DType, t.Shape, t.Size)
}

// Model is a model loaded with libnrt's nrt_load, with its tensor information. Close it
// after its queues and tensor sets.
type Model struct {
	rt      *Runtime
	p       *C.nrt_model_t
	core    int
	name    string
	inputs  []TensorInfo
	outputs []TensorInfo

	mu     sync.Mutex
	queues int // open queues on the model
	sets   int // open tensor sets of the model
	closed bool
}

type modelConfig struct {
	startCore, coreCount int
}

// ModelOption is a setting for LoadModel.
type ModelOption func(*modelConfig)

// OnCores loads the model starting at logical core start over count cores (count -1:
// as many as the model needs). Default: start 0, count -1. Tensor sets are allocated on
// the start core.
func OnCores(start, count int) ModelOption {
	return func(c *modelConfig) { c.startCore, c.coreCount = start, count }
}

// LoadModel reads a model file and loads it with nrt_load.
func (r *Runtime) LoadModel(path string, opts ...ModelOption) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := r.LoadModelBytes(data, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.name = path
	return m, nil
}

// LoadModelBytes loads a model from its bytes with nrt_load.
func (r *Runtime) LoadModelBytes(data []byte, opts ...ModelOption) (*Model, error) {
	cfg := modelConfig{startCore: 0, coreCount: -1}
	for _, o := range opts {
		o(&cfg)
	}
	if len(data) == 0 {
		return nil, misuse("LoadModelBytes", "the model is empty (0 bytes)")
	}
	if !r.adopt() {
		return nil, &Error{Op: "LoadModelBytes", Status: StatusClosed, Message: "the runtime is closed"}
	}
	// A C copy: nrt_load's contract does not say whether it keeps the buffer, so no Go
	// memory is lent to it.
	bytes := C.CBytes(data)
	defer C.free(bytes)
	var p *C.nrt_model_t
	if err := nrtCall("nrt_load", C.nrt_load(bytes, C.size_t(len(data)), C.int32_t(cfg.startCore),
		C.int32_t(cfg.coreCount), &p)); err != nil {
		r.release()
		return nil, err
	}
	m := &Model{rt: r, p: p, core: cfg.startCore}
	if err := m.readTensorInfo(); err != nil {
		C.nrt_unload(p)
		r.release()
		return nil, err
	}
	return m, nil
}

// nrtCall turns a failed libnrt call into an *Error (ErrRuntime with the raw status);
// libnrt has no message API of its own.
func nrtCall(op string, st C.NRT_STATUS) error {
	if st == C.NRT_SUCCESS {
		return nil
	}
	return &Error{Op: op, Status: StatusRuntime, NRTStatus: NRTStatus(st)}
}

func (m *Model) readTensorInfo() error {
	var arr *C.nrt_tensor_info_array_t
	if err := nrtCall("nrt_get_model_tensor_info", C.nrt_get_model_tensor_info(m.p, &arr)); err != nil {
		return err
	}
	defer C.nrt_free_model_tensor_info(arr)
	for i := C.uint64_t(0); i < arr.tensor_count; i++ {
		ti := C.nrtq_go_tensor_info_at(arr, i)
		info := TensorInfo{
			Name:  C.GoString(&ti.name[0]),
			Usage: Usage(ti.usage),
			Size:  int(ti.size),
			DType: DType(ti.dtype),
		}
		if ti.ndim > 0 && ti.shape != nil {
			for _, d := range unsafe.Slice(ti.shape, int(ti.ndim)) {
				info.Shape = append(info.Shape, uint32(d))
			}
		}
		if info.Usage == Input {
			m.inputs = append(m.inputs, info)
		} else {
			m.outputs = append(m.outputs, info)
		}
	}
	return nil
}

// Inputs describes the model's inputs, in the model's order.
func (m *Model) Inputs() []TensorInfo { return append([]TensorInfo(nil), m.inputs...) }

// Outputs describes the model's outputs, in the model's order.
func (m *Model) Outputs() []TensorInfo { return append([]TensorInfo(nil), m.outputs...) }

// count adjusts the model's open queues or sets; false when the model is closed.
func (m *Model) count(field *int, delta int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed && delta > 0 {
		return false
	}
	*field += delta
	return true
}

// Close unloads the model. Refused with ErrBusy while queues or tensor sets of the
// model are open.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return &Error{Op: "Model.Close", Status: StatusClosed, Message: "already closed"}
	}
	if m.queues > 0 || m.sets > 0 {
		return &Error{Op: "Model.Close", Status: StatusBusy,
			Message: fmt.Sprintf("%d queue(s) and %d tensor set(s) still open on the model", m.queues, m.sets)}
	}
	if err := nrtCall("nrt_unload", C.nrt_unload(m.p)); err != nil {
		return err
	}
	m.closed = true
	m.p = nil
	m.rt.release()
	return nil
}
