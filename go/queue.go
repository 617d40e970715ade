package nrtq

/*
#include <nrtq.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// WaitPolicy is how nrtq's completion thread waits for a queue's requests.
type WaitPolicy uint32

// Wait policies.
const (
	WaitBalanced   WaitPolicy = C.NRTQ_WAIT_BALANCED    // block, spin only just before a completion
	WaitLowLatency WaitPolicy = C.NRTQ_WAIT_LOW_LATENCY // sleep to each predicted completion, then spin
)

// QueueOption is a setting for NewQueue; each maps to one nrtq_queue_config setter,
// whose range it keeps (an out-of-range value fails NewQueue with ErrInvalid).
type QueueOption func(cfg *C.nrtq_queue_config) error

// WithDepth keeps at least depth requests on the device (1-1024, default 3).
func WithDepth(depth uint32) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_depth", func() C.nrtq_status {
			return C.nrtq_queue_config_set_depth(cfg, C.uint32_t(depth))
		})
	}
}

// WithMaxDepth caps the depth nrtq may grow to on its own (1-1024, default 16).
func WithMaxDepth(maxDepth uint32) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_max_depth", func() C.nrtq_status {
			return C.nrtq_queue_config_set_max_depth(cfg, C.uint32_t(maxDepth))
		})
	}
}

// WithBacklog sets how many requests wait in nrtq's software backlog before a submit
// meets ErrBacklogFull (0 to 2^24, default 1024).
func WithBacklog(backlog uint32) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_backlog", func() C.nrtq_status {
			return C.nrtq_queue_config_set_backlog(cfg, C.uint32_t(backlog))
		})
	}
}

// WithWaitPolicy sets the completion thread's wait policy (default WaitBalanced).
func WithWaitPolicy(p WaitPolicy) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_wait_policy", func() C.nrtq_status {
			return C.nrtq_queue_config_set_wait_policy(cfg, C.uint32_t(p))
		})
	}
}

// WithSpin sets the spin window (0-10 ms, in whole microseconds; default 5 µs).
func WithSpin(d time.Duration) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_spin_us", func() C.nrtq_status {
			return C.nrtq_queue_config_set_spin_us(cfg, C.uint32_t(d.Microseconds()))
		})
	}
}

// WithDeadline fails the queue (ErrDeadline) when one request stays on the device longer
// than d (whole microseconds; 0, the default, means none).
func WithDeadline(d time.Duration) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_deadline_us", func() C.nrtq_status {
			return C.nrtq_queue_config_set_deadline_us(cfg, C.uint64_t(d.Microseconds()))
		})
	}
}

// WithErrorLog sets how many recent failed requests RecentErrors keeps (default 256).
func WithErrorLog(entries uint32) QueueOption {
	return func(cfg *C.nrtq_queue_config) error {
		return call("nrtq_queue_config_set_error_log", func() C.nrtq_status {
			return C.nrtq_queue_config_set_error_log(cfg, C.uint32_t(entries))
		})
	}
}

// reapBatch is how many completions one nrtq_queue_reap call takes.
const reapBatch = 64

// Queue is an nrtq queue for one model, in reap mode: an internal reaper goroutine waits
// on the queue's descriptor in Go's netpoller and resolves each request's Pending. Safe
// for use by any number of goroutines. Close (or Shutdown) it before closing its model.
type Queue struct {
	model *Model   // the model whose tensor sets Submit takes (a pipeline's first model)
	chain []*Model // a pipeline's models, each counted as using the queue; nil for a queue
	p     *C.nrtq_queue

	mu       sync.Mutex
	closing  bool                  // no more submits
	finished bool                  // about to be destroyed: no more calls on p, Cancel included
	pending  map[*Pending]struct{} // accepted (or being submitted), not yet resolved
	progress chan struct{}         // closed and replaced whenever requests resolve or closing starts
	calls    sync.WaitGroup        // C calls on p in progress outside the reaper

	reapFile   *os.File        // a duplicate of the queue's reap descriptor, in the netpoller
	reapConn   syscall.RawConn // its raw access, for waiting on readability
	stopReaper atomic.Bool     // set before the deadline that wakes the reaper to exit
	reaperDone chan struct{}   // closed when the reaper goroutine returns
	reaperErr  error           // why the reaper stopped early; read after reaperDone
	resolved   atomic.Uint64   // completions the reaper resolved (for tests and stats)

	shutdownOnce sync.Once
}

// NewQueue creates a reap-mode queue running m on its logical core and starts its
// reaper goroutine.
func (r *Runtime) NewQueue(m *Model, opts ...QueueOption) (*Queue, error) {
	const op = "NewQueue"
	if m == nil {
		return nil, &Error{Op: op, Status: StatusNull, Message: "the model is nil"}
	}
	if m.rt != r {
		return nil, misuse(op, "the model was loaded through another runtime")
	}
	if err := r.usable(op); err != nil {
		return nil, err
	}
	cfg, err := newQueueConfig(opts)
	if err != nil {
		return nil, err
	}
	defer C.nrtq_queue_config_free(cfg)
	if !m.count(&m.queues, 1) {
		return nil, &Error{Op: op, Status: StatusClosed, Message: "the model is closed"}
	}
	q := &Queue{
		model:      m,
		pending:    make(map[*Pending]struct{}),
		progress:   make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	if err := call("nrtq_queue_create", func() C.nrtq_status {
		return C.nrtq_queue_create(r.p, unsafe.Pointer(m.p), cfg, &q.p)
	}); err != nil {
		m.count(&m.queues, -1)
		return nil, err
	}
	if err := q.start(); err != nil {
		m.count(&m.queues, -1)
		return nil, err
	}
	return q, nil
}

// newQueueConfig is a reap-mode queue config with opts applied; the caller frees it.
func newQueueConfig(opts []QueueOption) (*C.nrtq_queue_config, error) {
	var cfg *C.nrtq_queue_config
	if err := call("nrtq_queue_config_new", func() C.nrtq_status {
		return C.nrtq_queue_config_new(&cfg)
	}); err != nil {
		return nil, err
	}
	if err := call("nrtq_queue_config_set_delivery", func() C.nrtq_status {
		return C.nrtq_queue_config_set_delivery(cfg, C.NRTQ_DELIVERY_REAP)
	}); err != nil {
		C.nrtq_queue_config_free(cfg)
		return nil, err
	}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			C.nrtq_queue_config_free(cfg)
			return nil, err
		}
	}
	return cfg, nil
}

// start puts a created queue's reap descriptor in the netpoller and starts its reaper;
// on failure it destroys the queue.
func (q *Queue) start() error {
	if err := q.openReapFile(); err != nil {
		C.nrtq_queue_destroy(q.p, 0)
		return err
	}
	go q.reaper()
	return nil
}

// openReapFile puts a duplicate of the queue's reap descriptor into Go's netpoller. The
// queue owns its descriptor and closes it at destroy, while an *os.File closes its own
// at Close, so the file holds a close-on-exec duplicate. The duplicate shares the open
// file description, which nrtq made non-blocking, as the netpoller requires; were it
// not, the reaper's wait would fail with an error rather than block a thread.
func (q *Queue) openReapFile() error {
	var fd C.int
	if err := call("nrtq_queue_reap_fd", func() C.nrtq_status {
		return C.nrtq_queue_reap_fd(q.p, &fd)
	}); err != nil {
		return err
	}
	f, rc, err := netpollFile(int(fd), "nrtq-reap")
	if err != nil {
		return err
	}
	q.reapFile, q.reapConn = f, rc
	return nil
}

// netpollFile is a close-on-exec duplicate of an nrtq-owned, non-blocking descriptor as
// an *os.File in Go's netpoller, with its raw access.
func netpollFile(fd int, name string) (*os.File, syscall.RawConn, error) {
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, nil, fmt.Errorf("nrtq: duplicating the reap descriptor: %w", errno)
	}
	f := os.NewFile(dup, name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

// reaper waits for the reap descriptor to turn readable, then reaps until a reap comes
// back empty (readable is only a hint), until Shutdown stops it with a read deadline in
// the past: the netpoller's own wake-up, so no extra descriptor is needed.
func (q *Queue) reaper() {
	defer close(q.reaperDone)
	buf := make([]C.nrtq_completion, reapBatch)
	var reapErr error
	err := q.reapConn.Read(func(uintptr) bool {
		reapErr = q.reapAll(buf)
		return reapErr != nil
	})
	switch {
	case reapErr != nil:
		q.reaperErr = reapErr
	case errors.Is(err, os.ErrDeadlineExceeded) && q.stopReaper.Load():
	default:
		q.reaperErr = err
	}
	if q.reaperErr != nil {
		q.ring() // Shutdown and Drain stop waiting for a reaper that is gone
	}
}

// reapAll reaps batches until one comes back empty and resolves every completion.
func (q *Queue) reapAll(buf []C.nrtq_completion) error {
	for {
		var n C.size_t
		if err := call("nrtq_queue_reap", func() C.nrtq_status {
			return C.nrtq_queue_reap(q.p, &buf[0], C.size_t(len(buf)), &n)
		}); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		resolveBatch(buf[:n], &q.resolved)
		q.ring()
	}
}

// resolveBatch resolves the Pending behind each reaped completion, counting each in
// resolved.
func resolveBatch(completions []C.nrtq_completion, resolved *atomic.Uint64) {
	for _, c := range completions {
		h := cgo.Handle(c.user_data)
		// A second delivery of one request would find its handle deleted and panic
		// here: loudly, rather than resolving a stranger's request.
		p := h.Value().(*Pending)
		h.Delete()
		// Counted before Done closes, so a caller woken by it sees the count.
		resolved.Add(1)
		p.resolve(Completion{
			Ticket:    uint64(c.ticket),
			Status:    Status(c.status),
			NRTStatus: NRTStatus(c.nrt_status),
		})
	}
}

// ring wakes everyone waiting for progress: submitters waiting for backlog room,
// Drain, Shutdown.
func (q *Queue) ring() {
	q.mu.Lock()
	close(q.progress)
	q.progress = make(chan struct{})
	q.mu.Unlock()
}

// Completion is the outcome of one request.
type Completion struct {
	Ticket    uint64    // the request's ticket (per queue, increasing from 1)
	Status    Status    // StatusOK, or the request's failure
	NRTStatus NRTStatus // libnrt's status behind Status
}

// Err is nil for a successful request, else an *Error matching ErrExec, ErrQueueFailed,
// ErrCancelled, ErrDeadline, ErrRuntime or ErrPanic.
func (c Completion) Err() error {
	if c.Status == StatusOK {
		return nil
	}
	return &Error{Op: fmt.Sprintf("request %d", c.Ticket), Status: c.Status, NRTStatus: c.NRTStatus}
}

// Pending is a submitted request. Done is closed once its completion has been reaped:
// then Completion and Err give its outcome, and its tensor sets are free again.
type Pending struct {
	q       *Queue       // the queue or pipeline it went to; nil for a pool's request
	pool    *Pool        // the pool it went to; nil for a queue's
	in, out *TensorSet   // a tensor-set request's sets; nil for a host-buffer request
	host    *hostRequest // a host-buffer request's C staging memory; nil otherwise
	handle  cgo.Handle
	ticket  uint64
	done    chan struct{}
	result  Completion // written once, before done is closed
}

// Ticket is the request's ticket.
func (p *Pending) Ticket() uint64 { return p.ticket }

// Done is closed when the request has completed; use it in a select.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Completion is the request's outcome; ok is false until Done is closed.
func (p *Pending) Completion() (c Completion, ok bool) {
	select {
	case <-p.done:
		return p.result, true
	default:
		return Completion{}, false
	}
}

// Err is the request's error (nil on success), or ErrNotDone before Done is closed.
func (p *Pending) Err() error {
	c, ok := p.Completion()
	if !ok {
		return ErrNotDone
	}
	return c.Err()
}

// Wait waits for the request, or for ctx. When ctx ends first it returns ctx.Err(); the
// request goes on regardless, completes exactly once, and its tensor sets stay lent until
// then: Done still closes and Err still answers later. Wait never cancels the request
// (other goroutines may be waiting on it too): call Cancel for that.
func (p *Pending) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.result.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Cancel takes the request out of the queue's backlog if it has not reached the device
// yet, and reports whether it did. When true, the request resolves exactly once, through
// the queue's reaper like any completion and in its place in submission order, with an
// error matching ErrCancelled; its tensor sets are given back then, not by Cancel. When
// false, the request was already on the device or done: it resolves (or has resolved)
// with its own outcome. An error means the cancellation could not be asked for: the
// queue is being destroyed (ErrClosed; the request still resolves), or nrtq refused the
// ticket. A pool's request cannot be cancelled: ErrUnsupported.
func (p *Pending) Cancel() (bool, error) {
	const op = "Pending.Cancel"
	if p == nil {
		return false, &Error{Op: op, Status: StatusNull, Message: "the Pending is nil"}
	}
	if p.pool != nil {
		return false, &Error{Op: op, Status: StatusUnsupported, Message: "a pool's requests cannot be cancelled (nrtq has no pool cancel): wait for them"}
	}
	select {
	case <-p.done:
		return false, nil // resolved: nothing to ask nrtq
	default:
	}
	q := p.q
	// Allowed while Close drains the queue (cancelling is a way to make it finish
	// sooner), refused only once the handle is about to be destroyed.
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return false, &Error{Op: op, Status: StatusClosed, Message: "the queue is being destroyed; the request resolves on its own"}
	}
	q.calls.Add(1)
	q.mu.Unlock()
	defer q.calls.Done()
	err := call("nrtq_queue_cancel", func() C.nrtq_status {
		return C.nrtq_queue_cancel(q.p, C.uint64_t(p.ticket))
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrTooLate):
		return false, nil
	default:
		return false, err
	}
}

// resolve delivers the request's completion: tensor sets back first, so that a reader
// woken by Done finds them free; a host-buffer request's outputs are copied into its Go
// slices here too, before Done closes.
func (p *Pending) resolve(c Completion) {
	p.result = c
	p.giveBack()
	if p.host != nil {
		p.host.finish(c)
	}
	if p.pool != nil {
		p.pool.forget(p)
	} else {
		p.q.mu.Lock()
		delete(p.q.pending, p)
		p.q.mu.Unlock()
	}
	close(p.done)
}

// giveBack returns a tensor-set request's sets (a host-buffer request has none).
func (p *Pending) giveBack() {
	if p.in != nil {
		p.in.giveBack()
		p.out.giveBack()
	}
}

// waitError is a Submit that gave up waiting for backlog room: it matches both the
// context's error and ErrBacklogFull.
type waitError struct {
	ctxErr error
	last   error
}

func (e *waitError) Error() string {
	return "nrtq: Submit: gave up waiting for backlog room: " + e.ctxErr.Error()
}
func (e *waitError) Unwrap() error        { return e.ctxErr }
func (e *waitError) Is(target error) bool { return errors.Is(e.last, target) }

// Submit submits one execution of the queue's model on (in, out). When the backlog is
// full it waits for room until ctx ends; the error then matches both ctx.Err() and
// ErrBacklogFull. ctx governs only this wait: once accepted, the request runs to its
// completion whatever becomes of ctx (Pending.Cancel is the way to recall it from the
// backlog), and the returned Pending resolves exactly once. A ctx already ended submits nothing.
func (q *Queue) Submit(ctx context.Context, in, out *TensorSet) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		p, progress, err := q.submit(in, out)
		if !errors.Is(err, ErrBacklogFull) {
			return p, err
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return nil, &waitError{ctxErr: ctx.Err(), last: err}
		case <-q.reaperDone:
			// Stopped by Shutdown: the next attempt meets ErrClosed. Stopped by an
			// error: nothing will make room again.
			if q.reaperErr != nil {
				return nil, fmt.Errorf("nrtq: Submit: the backlog is full and the reaper has stopped (%v): %w", q.reaperErr, err)
			}
		}
	}
}

// TrySubmit submits without waiting: a full backlog is ErrBacklogFull at once.
func (q *Queue) TrySubmit(in, out *TensorSet) (*Pending, error) {
	p, _, err := q.submit(in, out)
	return p, err
}

// submit makes one attempt. It returns the progress channel current before the attempt,
// so a completion reaped between a refusal and the caller's wait still wakes it.
func (q *Queue) submit(in, out *TensorSet) (*Pending, <-chan struct{}, error) {
	const op = "Submit"
	switch {
	case in == nil || out == nil:
		return nil, nil, &Error{Op: op, Status: StatusNull, Message: "a tensor set is nil"}
	case in.model != q.model || out.model != q.model:
		return nil, nil, misuse(op, "the tensor sets were made for another model than the queue's")
	case in.usage != Input || out.usage != Output:
		return nil, nil, misuse(op, "want the model's input set then its output set, got %v then %v", in.usage, out.usage)
	}
	p := &Pending{q: q, in: in, out: out, done: make(chan struct{})}
	if err := in.lend(op); err != nil {
		return nil, nil, err
	}
	if err := out.lend(op); err != nil {
		in.giveBack()
		return nil, nil, err
	}
	return q.enqueue(op, p, "nrtq_queue_submit", func(user C.uint64_t, ticket *C.uint64_t) C.nrtq_status {
		return C.nrtq_queue_submit(q.p, in.set, out.set, nil, user, ticket)
	})
}

// enqueue hands p (its sets lent or its host buffers staged) to nrtq through submit,
// which passes user as the request's user_data. On refusal p's resources come back.
// It returns the progress channel current before the attempt, so a completion reaped
// between a refusal and the caller's wait still wakes it.
func (q *Queue) enqueue(op string, p *Pending, cName string,
	submit func(user C.uint64_t, ticket *C.uint64_t) C.nrtq_status) (*Pending, <-chan struct{}, error) {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		p.refused()
		return nil, nil, &Error{Op: op, Status: StatusClosed, Message: "the queue is closed"}
	}
	progress := q.progress
	// In the map before nrtq sees the request: the reaper may resolve it before the
	// submit call returns, and Shutdown waits for the map to empty.
	q.pending[p] = struct{}{}
	q.calls.Add(1)
	q.mu.Unlock()

	p.handle = cgo.NewHandle(p)
	var ticket C.uint64_t
	err := call(cName, func() C.nrtq_status {
		return submit(C.uint64_t(p.handle), &ticket)
	})
	if err == nil {
		p.ticket = uint64(ticket)
	} else {
		if errors.Is(err, ErrQueueFailed) {
			err.(*Error).NRTStatus = q.failureStatus()
		}
		// Out of the map before calls.Done: once Shutdown has seen the calls finish,
		// every entry left in the map is a request nrtq accepted.
		p.handle.Delete()
		p.refused()
		q.mu.Lock()
		delete(q.pending, p)
		q.mu.Unlock()
	}
	q.calls.Done()
	if err != nil {
		q.ring() // Shutdown may be waiting for this entry to leave the map
		return nil, progress, err
	}
	return p, progress, nil
}

// refused gives back what a request nrtq did not accept holds: its tensor sets, or its
// staging memory (nrtq keeps no pointer into it after refusing).
func (p *Pending) refused() {
	p.giveBack()
	if p.host != nil {
		p.host.free()
	}
}

// models are the models the queue holds open.
func (q *Queue) models() []*Model {
	if q.chain != nil {
		return q.chain
	}
	return []*Model{q.model}
}

// failureStatus is the raw libnrt status that failed the queue (0 if unknown).
func (q *Queue) failureStatus() NRTStatus {
	var st C.nrtq_status
	var raw C.uint32_t
	if C.nrtq_queue_failure(q.p, &st, &raw) != C.NRTQ_OK {
		return 0
	}
	return NRTStatus(raw)
}

// enter admits a C call on the queue handle, refused once the queue is closing.
func (q *Queue) enter(op string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return &Error{Op: op, Status: StatusClosed, Message: "the queue is closed"}
	}
	q.calls.Add(1)
	return nil
}

// Drain waits until every request accepted so far, and any accepted meanwhile, has
// completed and been resolved, or until ctx ends (then ctx.Err()).
func (q *Queue) Drain(ctx context.Context) error {
	for {
		q.mu.Lock()
		left, progress := len(q.pending), q.progress
		q.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-q.reaperDone:
			return fmt.Errorf("nrtq: Drain: the reaper stopped: %w", q.reaperErr)
		default:
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Failure is nil while the queue is healthy, else an *Error matching ErrQueueFailed
// (dead execution unit), ErrDeadline or ErrPanic, with the raw libnrt status.
func (q *Queue) Failure() error {
	if err := q.enter("Failure"); err != nil {
		return err
	}
	defer q.calls.Done()
	var st C.nrtq_status
	var raw C.uint32_t
	if err := call("nrtq_queue_failure", func() C.nrtq_status {
		return C.nrtq_queue_failure(q.p, &st, &raw)
	}); err != nil {
		return err
	}
	if Status(st) == StatusOK {
		return nil
	}
	return &Error{Op: "queue", Status: Status(st), NRTStatus: NRTStatus(raw)}
}

// RecentErrors takes up to max of the queue's most recent failed requests (oldest
// first; each returned once here, besides its normal completion), and how many were
// dropped so far because the error log was full.
func (q *Queue) RecentErrors(max int) ([]Completion, uint64, error) {
	if max <= 0 {
		return nil, 0, nil
	}
	if err := q.enter("RecentErrors"); err != nil {
		return nil, 0, err
	}
	defer q.calls.Done()
	buf := make([]C.nrtq_completion, max)
	var n C.size_t
	var dropped C.uint64_t
	if err := call("nrtq_queue_errors", func() C.nrtq_status {
		return C.nrtq_queue_errors(q.p, &buf[0], C.size_t(max), &n, &dropped)
	}); err != nil {
		return nil, 0, err
	}
	out := make([]Completion, n)
	for i, c := range buf[:n] {
		out[i] = Completion{Ticket: uint64(c.ticket), Status: Status(c.status), NRTStatus: NRTStatus(c.nrt_status)}
	}
	return out, uint64(dropped), nil
}

// Stats are a queue's counters and latency percentiles (nrtq_stats).
type Stats struct {
	Submitted, Completed, Failed, Cancelled  uint64
	InFlight, Backlog                        uint64 // now
	QueueFull                                uint64 // NRT_QUEUE_FULL refusals absorbed
	Wakeups                                  uint64
	SubmitToCompleteP50, SubmitToCompleteP99 time.Duration
	CompleteToNotifyP50, CompleteToNotifyP99 time.Duration // completion -> reaped
	PredictedDevice                          time.Duration
	Resolved                                 uint64 // completions this package's reaper resolved
}

// Stats reads the queue's counters.
func (q *Queue) Stats() (Stats, error) {
	if err := q.enter("Stats"); err != nil {
		return Stats{}, err
	}
	defer q.calls.Done()
	var st C.nrtq_stats
	st.struct_size = C.uint64_t(unsafe.Sizeof(st))
	if err := call("nrtq_queue_stats", func() C.nrtq_status {
		return C.nrtq_queue_stats(q.p, &st)
	}); err != nil {
		return Stats{}, err
	}
	return Stats{
		Submitted:           uint64(st.submitted),
		Completed:           uint64(st.completed),
		Failed:              uint64(st.failed),
		Cancelled:           uint64(st.cancelled),
		InFlight:            uint64(st.in_flight),
		Backlog:             uint64(st.backlog),
		QueueFull:           uint64(st.queue_full),
		Wakeups:             uint64(st.wakeups),
		SubmitToCompleteP50: time.Duration(st.submit_to_complete_p50_ns),
		SubmitToCompleteP99: time.Duration(st.submit_to_complete_p99_ns),
		CompleteToNotifyP50: time.Duration(st.complete_to_notify_p50_ns),
		CompleteToNotifyP99: time.Duration(st.complete_to_notify_p99_ns),
		PredictedDevice:     time.Duration(st.predicted_device_ns),
		Resolved:            q.resolved.Load(),
	}, nil
}

// Close is Shutdown without a time limit: every request accepted before it completes
// and resolves, then the queue is destroyed.
func (q *Queue) Close() error { return q.Shutdown(context.Background()) }

// Shutdown closes the queue without leaving any goroutine waiting on a Pending:
//
//  1. new submits are refused (ErrClosed); submitters waiting for room wake and get it;
//  2. it waits until the reaper has resolved every accepted request, so every
//     completion nrtq produces is reaped before the queue is destroyed (nrtq discards
//     unreaped completions of a reap-mode queue at destroy);
//  3. it stops the reaper, waits for it to return, and reaps once more itself;
//  4. it destroys the queue.
//
// If ctx ends first, the queue is destroyed at once: nrtq cancels the backlog and
// abandons what the device holds, and since it discards those completions, Shutdown
// resolves each such Pending itself as ErrCancelled with NRTTimeout. An abandoned
// request's tensor sets may still be written by the device, so they are never freed
// (they fail every use; their Close is a no-op). Shutdown then returns an error
// matching ctx.Err(). A second Shutdown returns ErrClosed.
func (q *Queue) Shutdown(ctx context.Context) error {
	first := false
	q.shutdownOnce.Do(func() { first = true })
	if !first {
		return &Error{Op: "Queue.Shutdown", Status: StatusClosed, Message: "already closed"}
	}
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	q.ring()

	waitErr := q.Drain(ctx)
	// Set under mu, so no call is admitted (calls.Add) once calls.Wait below may run.
	q.mu.Lock()
	q.finished = true
	q.mu.Unlock()

	q.stopReaper.Store(true)
	deadlineErr := q.reapFile.SetReadDeadline(time.Unix(1, 0))
	<-q.reaperDone
	// No submit or other C call on the handle is in progress after this.
	q.calls.Wait()
	finalErr := q.reapAll(make([]C.nrtq_completion, reapBatch))

	timeout := C.int64_t(-1) // everything was reaped: nothing is left to wait for
	if waitErr != nil {
		timeout = 0
	}
	destroyErr := call("nrtq_queue_destroy", func() C.nrtq_status {
		return C.nrtq_queue_destroy(q.p, timeout)
	})
	if errors.Is(destroyErr, ErrTimeout) {
		destroyErr = nil // abandonment is reported below, with the count
	}
	q.p = nil

	q.mu.Lock()
	left := make([]*Pending, 0, len(q.pending))
	for p := range q.pending {
		left = append(left, p)
	}
	q.mu.Unlock()
	for _, p := range left {
		if p.in != nil {
			p.in.abandon()
			p.out.abandon()
		}
		p.handle.Delete()
		p.resolve(Completion{Ticket: p.ticket, Status: StatusCancelled, NRTStatus: NRTTimeout})
	}
	closeErr := q.reapFile.Close()
	for _, m := range q.models() {
		m.count(&m.queues, -1)
	}

	if waitErr != nil {
		return fmt.Errorf("nrtq: Shutdown: %d request(s) abandoned as cancelled: %w", len(left), waitErr)
	}
	for _, err := range []error{q.reaperErr, finalErr, destroyErr, deadlineErr, closeErr} {
		if err != nil {
			return err
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("nrtq: Shutdown: %d request(s) were never reaped and were resolved as cancelled", len(left))
	}
	return nil
}
