package nrtq

/*
#include <stdlib.h>
#include <nrtq.h>

// Defined in Go below (//export): the core-left callback nrtq calls.
extern void nrtqGoCoreLeft(uint32_t core, uint32_t status, uint32_t nrt_status, uint64_t user_data);
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// PoolConfig is a pool's settings. The zero value is nrtq's default pool: every core
// the process sees, a backlog of 4096, requests not retry-safe, one completion thread,
// cores taking tensor sets.
type PoolConfig struct {
	// Cores are the logical cores the model is loaded on, each at most once; nil: every
	// core the process sees. Core i of the pool is Cores[i].
	Cores []int
	// Backlog is how many requests the pool holds before a submit meets
	// ErrBacklogFull: 0 is the default (4096), a negative value none (every request
	// goes straight to a core's own queue).
	Backlog int
	// RetrySafe marks requests safe to run twice: one on a core's device when the core
	// dies runs again on another core instead of failing. Each still resolves once.
	RetrySafe bool
	// CompletionThreads serving the cores (1-256; 0: one, the runtime's own).
	CompletionThreads uint32
	// Queue are the settings of each core's queue (depth, wait policy, deadline...).
	Queue []QueueOption
	// Pipeline makes each core's queue a pipeline with these settings: requests then
	// carry host buffers (Pool.SubmitHost) instead of tensor sets (Pool.Submit).
	Pipeline *PipelineConfig
	// OnCoreLeft is called once for each core that leaves the pool, and CoreLeft is sent
	// each such event (either, both or neither may be set). Both are served in order by
	// one goroutine of the pool, not on nrtq's completion thread, so OnCoreLeft may call
	// the pool (but not Close: Close waits for that goroutine) and a slow receiver on
	// CoreLeft delays only later events. Give CoreLeft room for every core, or keep
	// receiving until Close returns: Close waits until every event has been delivered.
	OnCoreLeft func(CoreLeft)
	CoreLeft   chan<- CoreLeft
}

// CoreLeft says that core Core (its index in the pool) left it, and why.
type CoreLeft struct {
	Core      int
	Status    Status    // StatusQueueFailed (dead unit), StatusDeadline or StatusPanic
	NRTStatus NRTStatus // the raw libnrt status, e.g. 101 NRT_EXEC_UNIT_UNRECOVERABLE
}

// Err is the reason as an *Error (errors.Is ErrQueueFailed, ErrDeadline, ErrPanic).
func (c CoreLeft) Err() error {
	return &Error{Op: fmt.Sprintf("pool core %d", c.Core), Status: c.Status, NRTStatus: c.NRTStatus}
}

// Pool is an nrtq pool: one model on several NeuronCores behind one submit, each core
// pulling from the pool's backlog as its device makes room. When a core's unit dies the
// core leaves the pool (PoolConfig.OnCoreLeft / CoreLeft) and the others serve on;
// every accepted request resolves exactly once, through the pool's reaper goroutine
// (reap mode, as a Queue's). Safe for use by any number of goroutines.
type Pool struct {
	rt       *Runtime
	p        *C.nrtq_pool
	pipeline bool

	mu       sync.Mutex
	closing  bool
	finished bool
	pending  map[*Pending]struct{}
	progress chan struct{}
	calls    sync.WaitGroup

	reapFile   *os.File
	reapConn   syscall.RawConn
	stopReaper atomic.Bool
	reaperDone chan struct{}
	reaperErr  error
	resolved   atomic.Uint64

	relay        *coreLeftRelay // nil without a core-left callback or channel
	relayHandle  cgo.Handle
	shutdownOnce sync.Once
}

// NewPool creates a pool that loads the model file path on each core of cfg.Cores
// (default: every core) and unloads it when the pool is closed.
func (r *Runtime) NewPool(path string, cfg PoolConfig) (*Pool, error) {
	const op = "NewPool"
	if err := r.usable(op); err != nil {
		return nil, err
	}
	pcfg, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer C.nrtq_pool_config_free(pcfg)
	pool := &Pool{
		rt:         r,
		pipeline:   cfg.Pipeline != nil,
		pending:    make(map[*Pending]struct{}),
		progress:   make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	if cfg.OnCoreLeft != nil || cfg.CoreLeft != nil {
		pool.relay = newCoreLeftRelay(cfg.OnCoreLeft, cfg.CoreLeft)
		pool.relayHandle = cgo.NewHandle(pool.relay)
		if err := call("nrtq_pool_config_set_core_left_callback", func() C.nrtq_status {
			return C.nrtq_pool_config_set_core_left_callback(pcfg,
				C.nrtq_core_left_fn(C.nrtqGoCoreLeft), C.uint64_t(pool.relayHandle))
		}); err != nil {
			pool.stopRelay()
			return nil, err
		}
	}
	if !r.adoptPool(1) {
		pool.stopRelay()
		return nil, &Error{Op: op, Status: StatusClosed, Message: "the runtime is closed"}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if err := call("nrtq_pool_create", func() C.nrtq_status {
		return C.nrtq_pool_create(r.p, cpath, pcfg, &pool.p)
	}); err != nil {
		pool.stopRelay()
		r.adoptPool(-1)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := pool.openReapFile(); err != nil {
		C.nrtq_pool_destroy(pool.p, 0)
		pool.stopRelay()
		r.adoptPool(-1)
		return nil, err
	}
	go pool.reaper()
	return pool, nil
}

// build makes the C config; the caller frees it.
func (pc *PoolConfig) build() (*C.nrtq_pool_config, error) {
	var cfg *C.nrtq_pool_config
	if err := call("nrtq_pool_config_new", func() C.nrtq_status {
		return C.nrtq_pool_config_new(&cfg)
	}); err != nil {
		return nil, err
	}
	fail := func(err error) (*C.nrtq_pool_config, error) {
		C.nrtq_pool_config_free(cfg)
		return nil, err
	}
	if err := call("nrtq_pool_config_set_delivery", func() C.nrtq_status {
		return C.nrtq_pool_config_set_delivery(cfg, C.NRTQ_DELIVERY_REAP)
	}); err != nil {
		return fail(err)
	}
	if err := call("nrtq_pool_config_set_retry_safe", func() C.nrtq_status {
		return C.nrtq_pool_config_set_retry_safe(cfg, C.bool(pc.RetrySafe))
	}); err != nil {
		return fail(err)
	}
	if pc.Backlog != 0 {
		backlog := pc.Backlog
		if backlog < 0 {
			backlog = 0
		} else if uint64(backlog) > math.MaxUint32 {
			return fail(misuse("PoolConfig", "backlog %d is out of range (at most 2^24)", backlog))
		}
		if err := call("nrtq_pool_config_set_backlog", func() C.nrtq_status {
			return C.nrtq_pool_config_set_backlog(cfg, C.uint32_t(backlog))
		}); err != nil {
			return fail(err)
		}
	}
	if pc.CompletionThreads != 0 {
		if err := call("nrtq_pool_config_set_completion_threads", func() C.nrtq_status {
			return C.nrtq_pool_config_set_completion_threads(cfg, C.uint32_t(pc.CompletionThreads))
		}); err != nil {
			return fail(err)
		}
	}
	if len(pc.Cores) > 0 {
		cores := make([]C.uint32_t, len(pc.Cores))
		for i, c := range pc.Cores {
			if c < 0 {
				return fail(misuse("PoolConfig", "core %d is negative", c))
			}
			cores[i] = C.uint32_t(c)
		}
		// Go memory holding no Go pointers, read during the call only.
		if err := call("nrtq_pool_config_set_cores", func() C.nrtq_status {
			return C.nrtq_pool_config_set_cores(cfg, &cores[0], C.size_t(len(cores)))
		}); err != nil {
			return fail(err)
		}
	}
	if len(pc.Queue) > 0 {
		qcfg, err := newQueueConfig(pc.Queue)
		if err != nil {
			return fail(err)
		}
		err = call("nrtq_pool_config_set_queue_config", func() C.nrtq_status {
			return C.nrtq_pool_config_set_queue_config(cfg, qcfg)
		})
		C.nrtq_queue_config_free(qcfg)
		if err != nil {
			return fail(err)
		}
	}
	if pc.Pipeline != nil {
		pipe, err := pc.Pipeline.build()
		if err != nil {
			return fail(err)
		}
		err = call("nrtq_pool_config_set_pipeline", func() C.nrtq_status {
			return C.nrtq_pool_config_set_pipeline(cfg, pipe)
		})
		C.nrtq_pipeline_config_free(pipe)
		if err != nil {
			return fail(err)
		}
	}
	return cfg, nil
}

// coreLeftRelay carries core-left events from nrtq's completion thread to one goroutine
// that calls the user's function and sends on the user's channel: the completion
// thread must never wait on Go code that may block.
type coreLeftRelay struct {
	fn func(CoreLeft)
	ch chan<- CoreLeft

	mu     sync.Mutex
	queue  []CoreLeft
	wake   chan struct{} // one token: events are queued
	stop   chan struct{} // closed once nrtq can call no more
	exited chan struct{}
}

func newCoreLeftRelay(fn func(CoreLeft), ch chan<- CoreLeft) *coreLeftRelay {
	r := &coreLeftRelay{fn: fn, ch: ch, wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	go r.run()
	return r
}

func (r *coreLeftRelay) post(e CoreLeft) {
	r.mu.Lock()
	r.queue = append(r.queue, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default: // a token is already there
	}
}

func (r *coreLeftRelay) run() {
	defer close(r.exited)
	for {
		stopping := false
		select {
		case <-r.wake:
		case <-r.stop:
			stopping = true
		}
		r.mu.Lock()
		events := r.queue
		r.queue = nil
		r.mu.Unlock()
		for _, e := range events {
			if r.fn != nil {
				r.fn(e)
			}
			if r.ch != nil {
				r.ch <- e
			}
		}
		if stopping {
			return
		}
	}
}

//export nrtqGoCoreLeft
func nrtqGoCoreLeft(core, status, nrtStatus C.uint32_t, userData C.uint64_t) {
	relay := cgo.Handle(userData).Value().(*coreLeftRelay)
	relay.post(CoreLeft{Core: int(core), Status: Status(status), NRTStatus: NRTStatus(nrtStatus)})
}

// stopRelay ends the relay once nrtq can no longer call it, after delivering what it
// holds.
func (pool *Pool) stopRelay() {
	if pool.relay == nil {
		return
	}
	close(pool.relay.stop)
	<-pool.relay.exited
	pool.relayHandle.Delete()
	pool.relay = nil
}

func (pool *Pool) openReapFile() error {
	var fd C.int
	if err := call("nrtq_pool_reap_fd", func() C.nrtq_status {
		return C.nrtq_pool_reap_fd(pool.p, &fd)
	}); err != nil {
		return err
	}
	f, rc, err := netpollFile(int(fd), "nrtq-pool-reap")
	if err != nil {
		return err
	}
	pool.reapFile, pool.reapConn = f, rc
	return nil
}

// reaper is Queue.reaper for the pool's descriptor.
func (pool *Pool) reaper() {
	defer close(pool.reaperDone)
	buf := make([]C.nrtq_completion, reapBatch)
	var reapErr error
	err := pool.reapConn.Read(func(uintptr) bool {
		reapErr = pool.reapAll(buf)
		return reapErr != nil
	})
	switch {
	case reapErr != nil:
		pool.reaperErr = reapErr
	case errors.Is(err, os.ErrDeadlineExceeded) && pool.stopReaper.Load():
	default:
		pool.reaperErr = err
	}
	if pool.reaperErr != nil {
		pool.ring()
	}
}

func (pool *Pool) reapAll(buf []C.nrtq_completion) error {
	for {
		var n C.size_t
		if err := call("nrtq_pool_reap", func() C.nrtq_status {
			return C.nrtq_pool_reap(pool.p, &buf[0], C.size_t(len(buf)), &n)
		}); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		resolveBatch(buf[:n], &pool.resolved)
		pool.ring()
	}
}

func (pool *Pool) ring() {
	pool.mu.Lock()
	close(pool.progress)
	pool.progress = make(chan struct{})
	pool.mu.Unlock()
}

func (pool *Pool) forget(p *Pending) {
	pool.mu.Lock()
	delete(pool.pending, p)
	pool.mu.Unlock()
}

// Submit submits one execution of the pool's model on (in, out). The pool has no
// tensor information of its own: the sets come from a Model of the same model file,
// allocated where every core of the pool can use them. A full backlog waits for room
// until ctx ends, as Queue.Submit. Refused with ErrInvalid on a pool of pipelines.
func (pool *Pool) Submit(ctx context.Context, in, out *TensorSet) (*Pending, error) {
	return pool.retry(ctx, func() (*Pending, <-chan struct{}, error) { return pool.submit(in, out) })
}

// TrySubmit is Submit without waiting.
func (pool *Pool) TrySubmit(in, out *TensorSet) (*Pending, error) {
	p, _, err := pool.submit(in, out)
	return p, err
}

// SubmitHost submits one request to a pool of pipelines (PoolConfig.Pipeline), with
// host buffers as Pipeline.SubmitHost: every model input and output exactly once, each
// exactly its tensor's size, or ErrInvalid with a message naming the tensor. The inputs
// are copied at once (see HostBuffer), so a request moved to another core after its
// core died is rewritten from that copy. A full backlog waits for room until ctx ends.
func (pool *Pool) SubmitHost(ctx context.Context, inputs, outputs []HostBuffer) (*Pending, error) {
	return pool.retry(ctx, func() (*Pending, <-chan struct{}, error) { return pool.submitHost(inputs, outputs) })
}

// TrySubmitHost is SubmitHost without waiting.
func (pool *Pool) TrySubmitHost(inputs, outputs []HostBuffer) (*Pending, error) {
	p, _, err := pool.submitHost(inputs, outputs)
	return p, err
}

func (pool *Pool) retry(ctx context.Context, attempt func() (*Pending, <-chan struct{}, error)) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for {
		p, progress, err := attempt()
		if !errors.Is(err, ErrBacklogFull) {
			return p, err
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return nil, &waitError{ctxErr: ctx.Err(), last: err}
		case <-pool.reaperDone:
			if pool.reaperErr != nil {
				return nil, fmt.Errorf("nrtq: the pool's backlog is full and its reaper has stopped (%v): %w", pool.reaperErr, err)
			}
		}
	}
}

func (pool *Pool) submit(in, out *TensorSet) (*Pending, <-chan struct{}, error) {
	const op = "Pool.Submit"
	switch {
	case in == nil || out == nil:
		return nil, nil, &Error{Op: op, Status: StatusNull, Message: "a tensor set is nil"}
	case in.usage != Input || out.usage != Output:
		return nil, nil, misuse(op, "want an input set then an output set, got %v then %v", in.usage, out.usage)
	case pool.pipeline:
		return nil, nil, misuse(op, "a pool of pipelines takes host buffers: use SubmitHost")
	}
	if err := in.lend(op); err != nil {
		return nil, nil, err
	}
	if err := out.lend(op); err != nil {
		in.giveBack()
		return nil, nil, err
	}
	p := &Pending{pool: pool, in: in, out: out, done: make(chan struct{})}
	return pool.enqueue(op, p, "nrtq_pool_submit", func(user C.uint64_t, ticket *C.uint64_t) C.nrtq_status {
		return C.nrtq_pool_submit(pool.p, in.set, out.set, nil, user, ticket)
	})
}

func (pool *Pool) submitHost(inputs, outputs []HostBuffer) (*Pending, <-chan struct{}, error) {
	const op = "Pool.SubmitHost"
	if !pool.pipeline {
		return nil, nil, misuse(op, "the pool takes tensor sets: set PoolConfig.Pipeline for host buffers, or use Submit")
	}
	req, staged, err := stageHost(op, pool.rt, inputs, outputs)
	if err != nil {
		return nil, nil, err
	}
	defer staged.release()
	p := &Pending{pool: pool, host: req, done: make(chan struct{})}
	return pool.enqueue(op, p, "nrtq_pool_submit_host", func(user C.uint64_t, ticket *C.uint64_t) C.nrtq_status {
		return C.nrtq_pool_submit_host(pool.p, staged.ins, staged.nIn, staged.outs, staged.nOut, nil, user, ticket)
	})
}

// enqueue is Queue.enqueue for the pool.
func (pool *Pool) enqueue(op string, p *Pending, cName string,
	submit func(user C.uint64_t, ticket *C.uint64_t) C.nrtq_status) (*Pending, <-chan struct{}, error) {
	pool.mu.Lock()
	if pool.closing {
		pool.mu.Unlock()
		p.refused()
		return nil, nil, &Error{Op: op, Status: StatusClosed, Message: "the pool is closed"}
	}
	progress := pool.progress
	pool.pending[p] = struct{}{}
	pool.calls.Add(1)
	pool.mu.Unlock()

	p.handle = cgo.NewHandle(p)
	var ticket C.uint64_t
	err := call(cName, func() C.nrtq_status {
		return submit(C.uint64_t(p.handle), &ticket)
	})
	if err == nil {
		p.ticket = uint64(ticket)
	} else {
		if errors.Is(err, ErrQueueFailed) {
			// Every core has left: the last one's raw status says why.
			var state, raw C.uint32_t
			if C.nrtq_pool_state(pool.p, &state, nil, &raw) == C.NRTQ_OK {
				err.(*Error).NRTStatus = NRTStatus(raw)
			}
		}
		p.handle.Delete()
		p.refused()
		pool.forget(p)
	}
	pool.calls.Done()
	if err != nil {
		pool.ring()
		return nil, progress, err
	}
	return p, progress, nil
}

// enter admits a C call on the pool handle, refused once the pool is closing.
func (pool *Pool) enter(op string) error {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.closing {
		return &Error{Op: op, Status: StatusClosed, Message: "the pool is closed"}
	}
	pool.calls.Add(1)
	return nil
}

// Drain waits until every request accepted so far, and any accepted meanwhile, has
// resolved, or until ctx ends (then ctx.Err()).
func (pool *Pool) Drain(ctx context.Context) error {
	for {
		pool.mu.Lock()
		left, progress := len(pool.pending), pool.progress
		pool.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-pool.reaperDone:
			return fmt.Errorf("nrtq: Pool.Drain: the reaper stopped: %w", pool.reaperErr)
		default:
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// PoolState is where a pool is in its life.
type PoolState uint32

// Pool states.
const (
	PoolServing PoolState = C.NRTQ_POOL_SERVING // at least one core serves
	PoolFailed  PoolState = C.NRTQ_POOL_FAILED  // every core has left: submits fail with ErrQueueFailed
	PoolClosed  PoolState = C.NRTQ_POOL_CLOSED  // being destroyed
)

func (s PoolState) String() string {
	switch s {
	case PoolServing:
		return "serving"
	case PoolFailed:
		return "failed"
	case PoolClosed:
		return "closed"
	}
	return fmt.Sprintf("pool state %d", uint32(s))
}

// State is where the pool is; when it has failed, failure is the last core's reason
// (an *Error matching ErrQueueFailed, ErrDeadline or ErrPanic), else nil.
func (pool *Pool) State() (state PoolState, failure error, err error) {
	if err := pool.enter("State"); err != nil {
		return 0, nil, err
	}
	defer pool.calls.Done()
	var st C.uint32_t
	var status C.nrtq_status
	var raw C.uint32_t
	if err := call("nrtq_pool_state", func() C.nrtq_status {
		return C.nrtq_pool_state(pool.p, &st, &status, &raw)
	}); err != nil {
		return 0, nil, err
	}
	if Status(status) != StatusOK {
		failure = &Error{Op: "pool", Status: Status(status), NRTStatus: NRTStatus(raw)}
	}
	return PoolState(st), failure, nil
}

// PoolStats are a pool's counters (nrtq_pool_counts).
type PoolStats struct {
	Submitted, Completed, Failed, Cancelled uint64
	Rerouted                                uint64 // moved off a failed core to another
	Retried                                 uint64 // of those, had reached the failed core's device
	Backlog, Outstanding                    uint64 // now: in the pool backlog, on the cores
	CoresAlive, Cores                       uint64
	Resolved                                uint64 // completions this package's reaper resolved
}

// Stats reads the pool's counters.
func (pool *Pool) Stats() (PoolStats, error) {
	if err := pool.enter("Stats"); err != nil {
		return PoolStats{}, err
	}
	defer pool.calls.Done()
	var st C.nrtq_pool_counts
	st.struct_size = C.uint64_t(unsafe.Sizeof(st))
	if err := call("nrtq_pool_stats", func() C.nrtq_status {
		return C.nrtq_pool_stats(pool.p, &st)
	}); err != nil {
		return PoolStats{}, err
	}
	return PoolStats{
		Submitted: uint64(st.submitted), Completed: uint64(st.completed),
		Failed: uint64(st.failed), Cancelled: uint64(st.cancelled),
		Rerouted: uint64(st.rerouted), Retried: uint64(st.retried),
		Backlog: uint64(st.backlog), Outstanding: uint64(st.outstanding),
		CoresAlive: uint64(st.cores_alive), Cores: uint64(st.cores),
		Resolved: pool.resolved.Load(),
	}, nil
}

// PoolCore is one core of a pool with its health.
type PoolCore struct {
	Index     int
	Healthy   bool
	Status    Status    // why it left (StatusOK while healthy)
	NRTStatus NRTStatus // the raw libnrt status behind Status
	Routed    uint64    // requests handed to it, re-runs included
	// Outstanding requests on it now; Completed by its queue, any status.
	Outstanding, Completed uint64
	DeviceTime             time.Duration // learned device time per request, 0 until learned
}

// Cores lists the pool's cores in pool order.
func (pool *Pool) Cores() ([]PoolCore, error) {
	if err := pool.enter("Cores"); err != nil {
		return nil, err
	}
	defer pool.calls.Done()
	var total, none C.size_t
	if err := call("nrtq_pool_cores", func() C.nrtq_status {
		return C.nrtq_pool_cores(pool.p, nil, 0, &none, &total)
	}); err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, nil
	}
	buf := make([]C.nrtq_pool_core, total)
	var n C.size_t
	if err := call("nrtq_pool_cores", func() C.nrtq_status {
		return C.nrtq_pool_cores(pool.p, &buf[0], C.size_t(len(buf)), &n, nil)
	}); err != nil {
		return nil, err
	}
	out := make([]PoolCore, n)
	for i, c := range buf[:n] {
		out[i] = PoolCore{
			Index: int(c.index), Healthy: c.healthy != 0,
			Status: Status(c.status), NRTStatus: NRTStatus(c.nrt_status),
			Routed: uint64(c.routed), Outstanding: uint64(c.outstanding), Completed: uint64(c.completed),
			DeviceTime: time.Duration(c.device_ns),
		}
	}
	return out, nil
}

// Close is Shutdown without a time limit.
func (pool *Pool) Close() error { return pool.Shutdown(context.Background()) }

// Shutdown closes the pool as Queue.Shutdown closes a queue: submits are refused, every
// accepted request resolves and is reaped, the reaper stops, and the pool is destroyed
// (its models unloaded); then the core-left events still queued are delivered. Past ctx
// the pool is destroyed at once and the requests still out resolve as ErrCancelled with
// NRTTimeout. A second Shutdown returns ErrClosed.
func (pool *Pool) Shutdown(ctx context.Context) error {
	first := false
	pool.shutdownOnce.Do(func() { first = true })
	if !first {
		return &Error{Op: "Pool.Shutdown", Status: StatusClosed, Message: "already closed"}
	}
	pool.mu.Lock()
	pool.closing = true
	pool.mu.Unlock()
	pool.ring()

	waitErr := pool.Drain(ctx)
	pool.mu.Lock()
	pool.finished = true
	pool.mu.Unlock()

	pool.stopReaper.Store(true)
	deadlineErr := pool.reapFile.SetReadDeadline(time.Unix(1, 0))
	<-pool.reaperDone
	pool.calls.Wait()
	finalErr := pool.reapAll(make([]C.nrtq_completion, reapBatch))

	timeout := C.int64_t(-1)
	if waitErr != nil {
		timeout = 0
	}
	destroyErr := call("nrtq_pool_destroy", func() C.nrtq_status {
		return C.nrtq_pool_destroy(pool.p, timeout)
	})
	if errors.Is(destroyErr, ErrTimeout) {
		destroyErr = nil
	}
	pool.p = nil

	pool.mu.Lock()
	left := make([]*Pending, 0, len(pool.pending))
	for p := range pool.pending {
		left = append(left, p)
	}
	pool.mu.Unlock()
	for _, p := range left {
		if p.in != nil {
			p.in.abandon()
			p.out.abandon()
		}
		p.handle.Delete()
		p.resolve(Completion{Ticket: p.ticket, Status: StatusCancelled, NRTStatus: NRTTimeout})
	}
	closeErr := pool.reapFile.Close()
	pool.stopRelay() // nrtq calls no callback after destroy
	pool.rt.adoptPool(-1)

	if waitErr != nil {
		return fmt.Errorf("nrtq: Pool.Shutdown: %d request(s) abandoned as cancelled: %w", len(left), waitErr)
	}
	for _, err := range []error{pool.reaperErr, finalErr, destroyErr, deadlineErr, closeErr} {
		if err != nil {
			return err
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("nrtq: Pool.Shutdown: %d request(s) were never reaped and were resolved as cancelled", len(left))
	}
	return nil
}
