package nrtq

/*
#include <stdlib.h>
#include <nrtq.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// PipelineConfig is a pipeline's settings beside its queue's (nrtq_pipeline_config).
// The zero value is nrtq's default: automatic slots, no links.
type PipelineConfig struct {
	// Slots is how many requests hold device memory (a tensor set per model) at once,
	// from leaving the backlog to completing; 0 picks three stages times the queue's
	// depth ceiling, capped at MaxSlots (0: 64). At most 4096.
	Slots, MaxSlots uint32
	// Links bind a chained model's inputs to the previous model's outputs on the device.
	// A chained input without a link is bound to the previous model's output of the
	// same name.
	Links []Link
}

// Link binds input Input of model Model (its position in the chain, 1 or more) to
// output Output of model Model-1.
type Link struct {
	Model         int
	Input, Output string
}

// build makes the C config; the caller frees it with nrtq_pipeline_config_free.
func (pc *PipelineConfig) build() (*C.nrtq_pipeline_config, error) {
	var cfg *C.nrtq_pipeline_config
	if err := call("nrtq_pipeline_config_new", func() C.nrtq_status {
		return C.nrtq_pipeline_config_new(&cfg)
	}); err != nil {
		return nil, err
	}
	fail := func(err error) (*C.nrtq_pipeline_config, error) {
		C.nrtq_pipeline_config_free(cfg)
		return nil, err
	}
	if pc == nil {
		return cfg, nil
	}
	if err := call("nrtq_pipeline_config_set_slots", func() C.nrtq_status {
		return C.nrtq_pipeline_config_set_slots(cfg, C.uint32_t(pc.Slots), C.uint32_t(pc.MaxSlots))
	}); err != nil {
		return fail(err)
	}
	for _, l := range pc.Links {
		if l.Model < 1 {
			return fail(misuse("PipelineConfig", "link %q <- %q: Model is %d, want the chained model's position (1 or more)", l.Input, l.Output, l.Model))
		}
		input, output := C.CString(l.Input), C.CString(l.Output)
		err := call("nrtq_pipeline_config_link", func() C.nrtq_status {
			return C.nrtq_pipeline_config_link(cfg, C.uint32_t(l.Model), input, output)
		})
		C.free(unsafe.Pointer(input))
		C.free(unsafe.Pointer(output))
		if err != nil {
			return fail(err)
		}
	}
	return cfg, nil
}

// Pipeline is an nrtq pipeline: a queue whose requests carry host buffers. Each request's
// inputs are written to the first model's input tensors, the models of the chain run in
// order on the device (each one's inputs bound to the previous one's outputs), and the
// last model's outputs are read back, on separate device units, so the writes, runs and
// reads of successive requests overlap. nrtq owns the device memory.
//
// It shares the Queue's machinery and promises: reap mode with a reaper goroutine,
// every accepted request resolves exactly once, Close reaps everything before destroying.
// Safe for use by any number of goroutines. Close it before closing its models.
type Pipeline struct {
	q       *Queue
	inputs  []TensorInfo // the first model's
	outputs []TensorInfo // the last model's
}

// NewPipeline creates a pipeline over chain (one model, or models loaded on one core to
// run one after the other), with pipeline settings cfg (nil: the defaults) and queue
// settings opts.
func (r *Runtime) NewPipeline(chain []*Model, cfg *PipelineConfig, opts ...QueueOption) (*Pipeline, error) {
	const op = "NewPipeline"
	if len(chain) == 0 {
		return nil, misuse(op, "no model: give one model, or the models of a chain in order")
	}
	for i, m := range chain {
		switch {
		case m == nil:
			return nil, &Error{Op: op, Status: StatusNull, Message: fmt.Sprintf("model %d of the chain is nil", i)}
		case m.rt != r:
			return nil, misuse(op, "model %d of the chain was loaded through another runtime", i)
		}
	}
	if err := r.usable(op); err != nil {
		return nil, err
	}
	qcfg, err := newQueueConfig(opts)
	if err != nil {
		return nil, err
	}
	defer C.nrtq_queue_config_free(qcfg)
	pcfg, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer C.nrtq_pipeline_config_free(pcfg)

	for i, m := range chain {
		if !m.count(&m.queues, 1) {
			for _, counted := range chain[:i] {
				counted.count(&counted.queues, -1)
			}
			return nil, &Error{Op: op, Status: StatusClosed, Message: fmt.Sprintf("model %d of the chain is closed", i)}
		}
	}
	uncount := func() {
		for _, m := range chain {
			m.count(&m.queues, -1)
		}
	}
	q := &Queue{
		model:      chain[0],
		chain:      append([]*Model(nil), chain...),
		pending:    make(map[*Pending]struct{}),
		progress:   make(chan struct{}),
		reaperDone: make(chan struct{}),
	}
	// The model handles in C memory: the array is passed as a pointer to pointers.
	handles := (*unsafe.Pointer)(C.calloc(C.size_t(len(chain)), C.size_t(unsafe.Sizeof(unsafe.Pointer(nil)))))
	defer C.free(unsafe.Pointer(handles))
	for i, m := range chain {
		*(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(handles), i*int(unsafe.Sizeof(unsafe.Pointer(nil))))) = unsafe.Pointer(m.p)
	}
	if err := call("nrtq_pipeline_create", func() C.nrtq_status {
		return C.nrtq_pipeline_create(r.p, handles, C.size_t(len(chain)), qcfg, pcfg, &q.p)
	}); err != nil {
		uncount()
		return nil, err
	}
	if err := q.start(); err != nil {
		uncount()
		return nil, err
	}
	return &Pipeline{q: q, inputs: chain[0].inputs, outputs: chain[len(chain)-1].outputs}, nil
}

// Inputs describes the buffers a request gives: the first model's inputs.
func (pl *Pipeline) Inputs() []TensorInfo { return append([]TensorInfo(nil), pl.inputs...) }

// Outputs describes the buffers a request gets back: the last model's outputs.
func (pl *Pipeline) Outputs() []TensorInfo { return append([]TensorInfo(nil), pl.outputs...) }

// SubmitHost submits one request: every input and every output of the pipeline given
// exactly once, by name or position, each exactly its tensor's size; otherwise the
// request is refused with an error matching ErrInvalid whose message names the tensor
// and both sizes. The inputs are copied at once (see HostBuffer): they may be reused
// when SubmitHost returns; the outputs are filled when the Pending's Done closes.
// When the backlog is full it waits for room until ctx ends, as Queue.Submit.
func (pl *Pipeline) SubmitHost(ctx context.Context, inputs, outputs []HostBuffer) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q := pl.q
	for {
		p, progress, err := pl.submitHost(inputs, outputs)
		if !errors.Is(err, ErrBacklogFull) {
			return p, err
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return nil, &waitError{ctxErr: ctx.Err(), last: err}
		case <-q.reaperDone:
			if q.reaperErr != nil {
				return nil, fmt.Errorf("nrtq: SubmitHost: the backlog is full and the reaper has stopped (%v): %w", q.reaperErr, err)
			}
		}
	}
}

// TrySubmitHost is SubmitHost without waiting: a full backlog is ErrBacklogFull at once.
func (pl *Pipeline) TrySubmitHost(inputs, outputs []HostBuffer) (*Pending, error) {
	p, _, err := pl.submitHost(inputs, outputs)
	return p, err
}

func (pl *Pipeline) submitHost(inputs, outputs []HostBuffer) (*Pending, <-chan struct{}, error) {
	const op = "SubmitHost"
	if err := checkKinds(op, inputs, pl.inputs); err != nil {
		return nil, nil, err
	}
	if err := checkKinds(op, outputs, pl.outputs); err != nil {
		return nil, nil, err
	}
	q := pl.q
	req, staged, err := stageHost(op, q.model.rt, inputs, outputs)
	if err != nil {
		return nil, nil, err
	}
	defer staged.release()
	p := &Pending{q: q, host: req, done: make(chan struct{})}
	return q.enqueue(op, p, "nrtq_queue_submit_host", func(user C.uint64_t, ticket *C.uint64_t) C.nrtq_status {
		return C.nrtq_queue_submit_host(q.p, staged.ins, staged.nIn, staged.outs, staged.nOut, nil, user, ticket)
	})
}

// Drain waits until every request accepted so far has resolved, or ctx ends.
func (pl *Pipeline) Drain(ctx context.Context) error { return pl.q.Drain(ctx) }

// Close is Queue.Close: every accepted request resolves, then the pipeline is destroyed.
func (pl *Pipeline) Close() error { return pl.q.Close() }

// Shutdown is Queue.Shutdown. A request abandoned past ctx leaves its staging memory
// to the device until Runtime.Close (see HostBuffer).
func (pl *Pipeline) Shutdown(ctx context.Context) error { return pl.q.Shutdown(ctx) }

// Failure is Queue.Failure: nil while every unit of the pipeline is healthy.
func (pl *Pipeline) Failure() error { return pl.q.Failure() }

// Stats are the pipeline's request counters (as Queue.Stats).
func (pl *Pipeline) Stats() (Stats, error) { return pl.q.Stats() }

// Stage is where a pipeline request was: writing inputs, running, or reading outputs.
type Stage uint32

// Stages, in plan order.
const (
	StageNone    Stage = C.NRTQ_STAGE_NONE // success, or a request that never left the backlog
	StageWrite   Stage = C.NRTQ_STAGE_WRITE
	StageExecute Stage = C.NRTQ_STAGE_EXECUTE
	StageRead    Stage = C.NRTQ_STAGE_READ
)

func (s Stage) String() string {
	switch s {
	case StageNone:
		return "none"
	case StageWrite:
		return "write"
	case StageExecute:
		return "execute"
	case StageRead:
		return "read"
	}
	return fmt.Sprintf("stage %d", uint32(s))
}

// StageStats are one stage's figures (nrtq_stage_stats).
type StageStats struct {
	Stage                  Stage
	InFlight               uint64        // requests on its unit now
	Waiting                uint64        // requests done with the previous step, waiting for its unit
	Retired                uint64        // steps completed
	Busy                   time.Duration // time its unit held at least one request
	LatencyP50, LatencyP99 time.Duration // entering to leaving the stage
	Predicted              time.Duration // learned time per step, 0 until learned
}

// maxStages bounds the stage figures asked for: a pipeline has three.
const maxStages = 8

// StageStats reads each stage's figures, in plan order (write, execute, read).
func (pl *Pipeline) StageStats() ([]StageStats, error) {
	q := pl.q
	if err := q.enter("StageStats"); err != nil {
		return nil, err
	}
	defer q.calls.Done()
	var buf [maxStages]C.nrtq_stage_stats
	var n C.size_t
	if err := call("nrtq_queue_stage_stats", func() C.nrtq_status {
		return C.nrtq_queue_stage_stats(q.p, &buf[0], C.size_t(len(buf)), &n)
	}); err != nil {
		return nil, err
	}
	if int(n) > len(buf) {
		n = C.size_t(len(buf))
	}
	out := make([]StageStats, n)
	for i, s := range buf[:n] {
		out[i] = StageStats{
			Stage:      Stage(s.stage),
			InFlight:   uint64(s.in_flight),
			Waiting:    uint64(s.waiting),
			Retired:    uint64(s.retired),
			Busy:       time.Duration(s.busy_ns),
			LatencyP50: time.Duration(s.latency_p50_ns),
			LatencyP99: time.Duration(s.latency_p99_ns),
			Predicted:  time.Duration(s.predicted_ns),
		}
	}
	return out, nil
}

// StageError is a failed request with the stage it failed at.
type StageError struct {
	Completion
	Stage Stage
}

// StageErrors takes up to max of the pipeline's most recent failed requests (oldest
// first; each is returned once, here or by nothing else), with the stage each failed at,
// and how many the error log dropped so far.
func (pl *Pipeline) StageErrors(max int) ([]StageError, uint64, error) {
	if max <= 0 {
		return nil, 0, nil
	}
	q := pl.q
	if err := q.enter("StageErrors"); err != nil {
		return nil, 0, err
	}
	defer q.calls.Done()
	buf := make([]C.nrtq_stage_error, max)
	var n C.size_t
	var dropped C.uint64_t
	if err := call("nrtq_queue_stage_errors", func() C.nrtq_status {
		return C.nrtq_queue_stage_errors(q.p, &buf[0], C.size_t(max), &n, &dropped)
	}); err != nil {
		return nil, 0, err
	}
	out := make([]StageError, n)
	for i, e := range buf[:n] {
		c := e.completion
		out[i] = StageError{
			Completion: Completion{Ticket: uint64(c.ticket), Status: Status(c.status), NRTStatus: NRTStatus(c.nrt_status)},
			Stage:      Stage(e.stage),
		}
	}
	return out, uint64(dropped), nil
}
