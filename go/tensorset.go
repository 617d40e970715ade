package nrtq

/*
#include <stdlib.h>
#include <nrt/nrt.h>
*/
import "C"

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// TensorSet is one nrt_tensor_set_t holding a device tensor for every input (or every
// output) of a model, allocated from the model's tensor information.
//
// A set is lent to each request submitted with it until that request's completion has
// been reaped: meanwhile Write, Read and Close return ErrTensorSetInUse. An input set may
// be lent to several requests at once (the device only reads it); an output set to one.
// A TensorSet may be used from several goroutines, but writing a set while submitting it
// from another goroutine is a race the caller must order.
type TensorSet struct {
	model   *Model
	usage   Usage
	infos   []TensorInfo
	set     unsafe.Pointer    // nrt_tensor_set_t *
	tensors []*C.nrt_tensor_t // one per info, same order
	index   map[string]int    // name -> position

	mu        sync.Mutex
	lent      int  // requests holding the set
	closed    bool // freed by Close
	abandoned bool // left on the device by an abandoned Shutdown: never freed
}

// NewInputs allocates a tensor set for the model's inputs.
func (m *Model) NewInputs() (*TensorSet, error) { return m.newSet(Input, m.inputs) }

// NewOutputs allocates a tensor set for the model's outputs.
func (m *Model) NewOutputs() (*TensorSet, error) { return m.newSet(Output, m.outputs) }

func (m *Model) newSet(usage Usage, infos []TensorInfo) (*TensorSet, error) {
	if !m.count(&m.sets, 1) {
		return nil, &Error{Op: "NewTensorSet", Status: StatusClosed, Message: "the model is closed"}
	}
	s := &TensorSet{model: m, usage: usage, infos: infos, index: make(map[string]int, len(infos))}
	if err := s.allocate(); err != nil {
		s.free()
		m.count(&m.sets, -1)
		return nil, err
	}
	return s, nil
}

func (s *TensorSet) allocate() error {
	if err := nrtCall("nrt_allocate_tensor_set", C.nrt_allocate_tensor_set(&s.set)); err != nil {
		return err
	}
	for i, info := range s.infos {
		name := C.CString(info.Name)
		var t *C.nrt_tensor_t
		err := nrtCall("nrt_tensor_allocate "+info.Name, C.nrt_tensor_allocate(
			C.NRT_TENSOR_PLACEMENT_DEVICE, C.int(s.model.core), C.size_t(info.Size), name, &t))
		if err == nil {
			s.tensors = append(s.tensors, t)
			err = nrtCall("nrt_add_tensor_to_tensor_set "+info.Name,
				C.nrt_add_tensor_to_tensor_set(s.set, name, t))
		}
		C.free(unsafe.Pointer(name))
		if err != nil {
			return err
		}
		s.index[info.Name] = i
	}
	return nil
}

// free releases the C objects (the set first: destroying it leaves its tensors alone).
func (s *TensorSet) free() {
	if s.set != nil {
		C.nrt_destroy_tensor_set(&s.set)
	}
	for i := range s.tensors {
		C.nrt_tensor_free(&s.tensors[i])
	}
	s.tensors = nil
}

// Usage says whether the set holds the model's inputs or its outputs.
func (s *TensorSet) Usage() Usage { return s.usage }

// Tensors describes the set's tensors, by index.
func (s *TensorSet) Tensors() []TensorInfo { return append([]TensorInfo(nil), s.infos...) }

// Index is the position of the tensor called name.
func (s *TensorSet) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// lend gives the set to a request: an output set to one at a time.
func (s *TensorSet) lend(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed || s.abandoned:
		return &Error{Op: op, Status: StatusInvalid, Message: fmt.Sprintf("the %s tensor set is closed", s.usage)}
	case s.usage == Output && s.lent > 0:
		return ErrTensorSetInUse
	}
	s.lent++
	return nil
}

func (s *TensorSet) giveBack() {
	s.mu.Lock()
	s.lent--
	s.mu.Unlock()
}

// abandon marks the set as still in the device's hands after its queue was destroyed
// without waiting for it: its memory may yet be written, so it is never freed (a
// deliberate leak), every use fails, and it no longer holds its model open.
func (s *TensorSet) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.abandoned && !s.closed {
		s.abandoned = true
		s.model.count(&s.model.sets, -1)
	}
}

// access runs f with the set idle (not lent, not closed), holding it against lending.
func (s *TensorSet) access(op string, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.abandoned:
		return &Error{Op: op, Status: StatusCancelled, NRTStatus: NRTTimeout,
			Message: "the tensor set was abandoned on the device when its queue's Shutdown gave up waiting"}
	case s.closed:
		return &Error{Op: op, Status: StatusInvalid, Message: "the tensor set is closed"}
	case s.lent > 0:
		return ErrTensorSetInUse
	}
	return f()
}

// tensorAt checks that position i exists and that n bytes fill it exactly.
func (s *TensorSet) tensorAt(op string, i, n int) (*C.nrt_tensor_t, error) {
	if i < 0 || i >= len(s.infos) {
		return nil, misuse(op, "tensor index %d out of range: the %s set has %d tensors", i, s.usage, len(s.infos))
	}
	if n != s.infos[i].Size {
		return nil, misuse(op, "%v: got %d bytes, want exactly %d", s.infos[i], n, s.infos[i].Size)
	}
	return s.tensors[i], nil
}

func (s *TensorSet) position(op, name string) (int, error) {
	i, ok := s.index[name]
	if !ok {
		names := make([]string, len(s.infos))
		for j, info := range s.infos {
			names[j] = info.Name
		}
		return 0, misuse(op, "the model has no %s tensor %q (its %ss: %q)", s.usage, name, s.usage, names)
	}
	return i, nil
}

// write copies n bytes at p into tensor i, read the other way (nrt_tensor_write and
// nrt_tensor_read are synchronous, so the Go memory is lent for the call only; it holds no
// Go pointers, as cgo requires).
func (s *TensorSet) write(op string, i int, p unsafe.Pointer, n int) error {
	return s.transfer(op, i, p, n, true)
}

func (s *TensorSet) read(op string, i int, p unsafe.Pointer, n int) error {
	return s.transfer(op, i, p, n, false)
}

func (s *TensorSet) transfer(op string, i int, p unsafe.Pointer, n int, toDevice bool) error {
	return s.access(op, func() error {
		t, err := s.tensorAt(op, i, n)
		if err != nil || n == 0 {
			return err
		}
		if toDevice {
			return nrtCall("nrt_tensor_write "+s.infos[i].Name, C.nrt_tensor_write(t, p, 0, C.size_t(n)))
		}
		return nrtCall("nrt_tensor_read "+s.infos[i].Name, C.nrt_tensor_read(t, p, 0, C.size_t(n)))
	})
}

func bytesPointer(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// WriteIndex fills tensor i with data, which must be exactly its size.
func (s *TensorSet) WriteIndex(i int, data []byte) error {
	return s.write("TensorSet.WriteIndex", i, bytesPointer(data), len(data))
}

// ReadIndex copies tensor i into dst, which must be exactly its size.
func (s *TensorSet) ReadIndex(i int, dst []byte) error {
	return s.read("TensorSet.ReadIndex", i, bytesPointer(dst), len(dst))
}

// Write fills the tensor called name with data, which must be exactly its size.
func (s *TensorSet) Write(name string, data []byte) error {
	i, err := s.position("TensorSet.Write", name)
	if err != nil {
		return err
	}
	return s.write("TensorSet.Write", i, bytesPointer(data), len(data))
}

// Read copies the tensor called name into dst, which must be exactly its size.
func (s *TensorSet) Read(name string, dst []byte) error {
	i, err := s.position("TensorSet.Read", name)
	if err != nil {
		return err
	}
	return s.read("TensorSet.Read", i, bytesPointer(dst), len(dst))
}

// Close frees the set's tensors. Refused with ErrTensorSetInUse while a request holds
// it. A set abandoned on the device by Queue.Shutdown is never freed; closing it is a
// no-op.
func (s *TensorSet) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.abandoned:
		return nil
	case s.closed:
		return &Error{Op: "TensorSet.Close", Status: StatusClosed, Message: "already closed"}
	case s.lent > 0:
		return ErrTensorSetInUse
	}
	s.free()
	s.closed = true
	s.model.count(&s.model.sets, -1)
	return nil
}

// Element is an element type the typed helpers read and write. Raw bit patterns of the
// 16- and 8-bit float types go through uint16 and uint8.
type Element interface {
	~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~float32
}

// elementFits says whether Go values of kind k may carry tensor elements of type d.
func elementFits(k reflect.Kind, d DType) bool {
	if d == DTypeUnknown {
		return true // nothing to check against: the size check still applies
	}
	switch k {
	case reflect.Float32:
		return d == DTypeFloat32 || d == DTypeFP32R
	case reflect.Int8:
		return d == DTypeInt8
	case reflect.Uint8:
		return d == DTypeUint8 || d == DTypeFP8E3 || d == DTypeFP8E4 || d == DTypeFP8E5
	case reflect.Int16:
		return d == DTypeInt16
	case reflect.Uint16:
		return d == DTypeUint16 || d == DTypeBfloat16 || d == DTypeFloat16
	case reflect.Int32:
		return d == DTypeInt32
	case reflect.Uint32:
		return d == DTypeUint32
	case reflect.Int64:
		return d == DTypeInt64
	case reflect.Uint64:
		return d == DTypeUint64
	}
	return false
}

// typedPosition finds name and checks that []T matches its element type.
func typedPosition[T Element](s *TensorSet, op, name string) (int, error) {
	i, err := s.position(op, name)
	if err != nil {
		return 0, err
	}
	var zero T
	if k := reflect.TypeOf(zero).Kind(); !elementFits(k, s.infos[i].DType) {
		return 0, misuse(op, "%v: its elements are %v, not %v", s.infos[i], s.infos[i].DType, k)
	}
	return i, nil
}

func slicePointer[T Element](v []T) (unsafe.Pointer, int) {
	if len(v) == 0 {
		return nil, 0
	}
	var zero T
	return unsafe.Pointer(&v[0]), len(v) * int(unsafe.Sizeof(zero))
}

// WriteValues fills the tensor called name with values, checked against its element
// type and size (e.g. a []float32 of 1024 values for an f32[1024] tensor).
func WriteValues[T Element](s *TensorSet, name string, values []T) error {
	const op = "WriteValues"
	i, err := typedPosition[T](s, op, name)
	if err != nil {
		return err
	}
	p, n := slicePointer(values)
	return s.write(op, i, p, n)
}

// ReadValues copies the tensor called name into dst, checked against its element type
// and size.
func ReadValues[T Element](s *TensorSet, name string, dst []T) error {
	const op = "ReadValues"
	i, err := typedPosition[T](s, op, name)
	if err != nil {
		return err
	}
	p, n := slicePointer(dst)
	return s.read(op, i, p, n)
}
