package nrtq

/*
#include <nrtq.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
)

// Status is an nrtq_status: 0 is success, 1-99 "not now", 100-199 a failed call,
// 200-299 a request's outcome. The numbers are the C library's and never change.
type Status uint32

// Every nrtq_status.
const (
	StatusOK            Status = C.NRTQ_OK
	StatusBacklogFull   Status = C.NRTQ_BACKLOG_FULL
	StatusTimeout       Status = C.NRTQ_TIMEOUT
	StatusNull          Status = C.NRTQ_ERR_NULL
	StatusInvalid       Status = C.NRTQ_ERR_INVALID
	StatusPanic         Status = C.NRTQ_ERR_PANIC
	StatusLoad          Status = C.NRTQ_ERR_LOAD
	StatusRuntime       Status = C.NRTQ_ERR_RUNTIME
	StatusUnsupported   Status = C.NRTQ_ERR_UNSUPPORTED
	StatusBusy          Status = C.NRTQ_ERR_BUSY
	StatusWouldDeadlock Status = C.NRTQ_ERR_WOULD_DEADLOCK
	StatusClosed        Status = C.NRTQ_ERR_CLOSED
	StatusUnknownTicket Status = C.NRTQ_ERR_UNKNOWN_TICKET
	StatusResource      Status = C.NRTQ_ERR_RESOURCE
	StatusWrongMode     Status = C.NRTQ_ERR_WRONG_MODE
	StatusTooLate       Status = C.NRTQ_ERR_TOO_LATE
	StatusExec          Status = C.NRTQ_ERR_EXEC
	StatusQueueFailed   Status = C.NRTQ_ERR_QUEUE_FAILED
	StatusCancelled     Status = C.NRTQ_ERR_CANCELLED
	StatusDeadline      Status = C.NRTQ_ERR_DEADLINE
	firstFailure        Status = 100 // codes below this are "not now", never failures
)

// String is the status's name, e.g. "NRTQ_BACKLOG_FULL".
func (s Status) String() string {
	name, _, _ := strings.Cut(s.Description(), ":")
	return name
}

// Description is the library's static description of the status
// ("NRTQ_BACKLOG_FULL: not now: ...").
func (s Status) Description() string {
	return C.GoString(C.nrtq_status_str(C.uint32_t(s)))
}

// NRTStatus is a raw libnrt NRT_STATUS, the cause beside an nrtq status.
type NRTStatus uint32

// The libnrt statuses this package names itself.
const (
	NRTSuccess NRTStatus = 0
	NRTTimeout NRTStatus = 5
)

// nrtStatusNames are libnrt's NRT_STATUS identifiers (nrt/nrt_status.h). They are kept
// here rather than asked of nrt_get_status_as_str, which some libnrt releases declare
// but do not export.
var nrtStatusNames = map[NRTStatus]string{
	0: "NRT_SUCCESS", 1: "NRT_FAILURE", 2: "NRT_INVALID", 3: "NRT_INVALID_HANDLE",
	4: "NRT_RESOURCE", 5: "NRT_TIMEOUT", 6: "NRT_HW_ERROR", 7: "NRT_QUEUE_FULL",
	9: "NRT_LOAD_NOT_ENOUGH_NC", 10: "NRT_UNSUPPORTED_NEFF_VERSION",
	11: "NRT_FAIL_HOST_MEM_ALLOC", 13: "NRT_UNINITIALIZED", 14: "NRT_CLOSED",
	15: "NRT_QUEUE_EMPTY", 101: "NRT_EXEC_UNIT_UNRECOVERABLE", 1002: "NRT_EXEC_BAD_INPUT",
	1003: "NRT_EXEC_COMPLETED_WITH_NUM_ERR", 1004: "NRT_EXEC_COMPLETED_WITH_ERR",
	1005: "NRT_EXEC_NC_BUSY", 1006: "NRT_EXEC_OOB", 1100: "NRT_COLL_PENDING",
	1200: "NRT_EXEC_HW_ERR_COLLECTIVES", 1201: "NRT_EXEC_HW_ERR_HBM_UE",
	1202: "NRT_EXEC_HW_ERR_NC_UE", 1203: "NRT_EXEC_HW_ERR_DMA_ABORT",
	1204: "NRT_EXEC_SW_NQ_OVERFLOW", 1205: "NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE",
	1206: "NRT_NETWORK_PROXY_FAILURE",
}

// String is the status's NRT_* name, or "NRT_STATUS n" for one this package does not know.
func (s NRTStatus) String() string {
	if name, ok := nrtStatusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("NRT_STATUS %d", uint32(s))
}

// Error is a failed call or a failed request: the nrtq status (the truth to act on), the
// raw libnrt status behind it where one is known, and the detail nrtq_last_error gave on
// the failing call's own OS thread. Match it with errors.Is against the Err* sentinels.
type Error struct {
	Op        string    // the call or request, e.g. "nrtq_queue_submit" or "request 12"
	Status    Status    // nrtq's status
	NRTStatus NRTStatus // libnrt's status behind it, 0 when none is known
	Message   string    // detail: nrtq_last_error(), or this package's own words
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("nrtq: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	name := e.Status.String()
	b.WriteString(name)
	if e.NRTStatus != NRTSuccess {
		fmt.Fprintf(&b, " (%v)", e.NRTStatus)
	}
	// nrtq's messages may start with the status's name: not twice.
	if msg := strings.TrimPrefix(strings.TrimPrefix(e.Message, name), ": "); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	return b.String()
}

// Is matches the sentinel of the error's status.
func (e *Error) Is(target error) bool {
	s, ok := target.(*sentinel)
	return ok && s.status == e.Status
}

// sentinel is the type of the Err* values: one per status, matched by errors.Is.
type sentinel struct{ status Status }

func (s *sentinel) Error() string { return "nrtq: " + s.status.Description() }

// Sentinels for errors.Is, one per status. "Not now" statuses (ErrBacklogFull,
// ErrTimeout) mean nothing failed: retry later.
var (
	ErrBacklogFull   error = &sentinel{StatusBacklogFull}
	ErrTimeout       error = &sentinel{StatusTimeout}
	ErrNull          error = &sentinel{StatusNull}
	ErrInvalid       error = &sentinel{StatusInvalid}
	ErrPanic         error = &sentinel{StatusPanic}
	ErrLoad          error = &sentinel{StatusLoad}
	ErrRuntime       error = &sentinel{StatusRuntime}
	ErrUnsupported   error = &sentinel{StatusUnsupported}
	ErrBusy          error = &sentinel{StatusBusy}
	ErrWouldDeadlock error = &sentinel{StatusWouldDeadlock}
	ErrClosed        error = &sentinel{StatusClosed}
	ErrUnknownTicket error = &sentinel{StatusUnknownTicket}
	ErrResource      error = &sentinel{StatusResource}
	ErrWrongMode     error = &sentinel{StatusWrongMode}
	ErrTooLate       error = &sentinel{StatusTooLate}
	ErrExec          error = &sentinel{StatusExec}
	ErrQueueFailed   error = &sentinel{StatusQueueFailed}
	ErrCancelled     error = &sentinel{StatusCancelled}
	ErrDeadline      error = &sentinel{StatusDeadline}
)

// ErrTensorSetInUse: the tensor set is lent to a request that has not completed yet
// (its completion has not been reaped), so it cannot be written, read or closed.
var ErrTensorSetInUse = errors.New("nrtq: the tensor set is lent to a request that has not completed")

// ErrNotDone: a Pending's result was asked for before its Done channel closed.
var ErrNotDone = errors.New("nrtq: the request has not completed yet")

// call runs one nrtq call and turns a non-OK status into an *Error. nrtq_last_error is
// per OS thread and a goroutine may change threads between any two cgo calls, so the
// call and the read of its message are pinned to one thread. "Not now" codes carry no
// message worth a string copy.
func call(op string, f func() C.nrtq_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := Status(f())
	if st == StatusOK {
		return nil
	}
	e := &Error{Op: op, Status: st}
	if st >= firstFailure {
		e.Message = C.GoString(C.nrtq_last_error())
	}
	return e
}

// misuse is an argument error this package finds itself, before calling C.
func misuse(op, format string, args ...any) error {
	return &Error{Op: op, Status: StatusInvalid, Message: fmt.Sprintf(format, args...)}
}
