// Package nrtq drives AWS Neuron devices through libnrtq's auto-refilling queues: submit
// from any number of goroutines, wait for each request with a select, close without
// leaving anyone waiting.
//
//	rt, err := nrtq.Open()                     // loads libnrt, calls nrt_init
//	m, err := rt.LoadModel("model.neff")       // nrt_load, plus the model's tensor info
//	q, err := rt.NewQueue(m, nrtq.WithDepth(3), nrtq.WithBacklog(64))
//	in, err := m.NewInputs()                   // one device tensor per model input
//	out, err := m.NewOutputs()
//	err = nrtq.WriteValues(in, "a", a)         // []float32, checked against the tensor
//	p, err := q.Submit(ctx, in, out)           // waits for backlog room until ctx ends
//	select {
//	case <-p.Done():
//		err = p.Err()                          // nil, or errors.Is(err, nrtq.ErrExec), ...
//	case <-ctx.Done():                         // the request still completes, once
//	}
//	err = nrtq.ReadValues(out, "out", result)
//	err = q.Close()                            // reaps every completion, then destroys
//
// # Pipelines: host buffers in, host buffers out
//
// A Pipeline is a queue whose requests carry Go slices instead of tensor sets: nrtq
// writes the inputs to the device, runs the model (or a chain of models, each one's
// inputs bound to the previous one's outputs on the device) and reads the outputs back,
// on separate device units, so successive requests overlap.
//
//	pl, err := rt.NewPipeline([]*nrtq.Model{m}, nil)   // nil: default slots, no links
//	out := make([]float32, 1024)
//	p, err := pl.SubmitHost(ctx,
//		[]nrtq.HostBuffer{nrtq.Values("a", a), nrtq.ValuesAt(1, b)}, // by name or position
//		[]nrtq.HostBuffer{nrtq.Values("out", out)})
//	err = p.Wait(ctx)                                   // out now holds the result
//	stages, err := pl.StageStats()                      // write, execute, read
//
// A buffer of the wrong size is refused with ErrInvalid and a message naming the tensor
// and both sizes. The inputs are copied to C memory at submit, the outputs copied into
// the caller's slices before Done closes (HostBuffer says why: cgo's pointer rules).
//
// # Pools
//
// A Pool loads one model file on several cores behind one submit; each core pulls from
// the pool's backlog as its device makes room. With PoolConfig.Pipeline each core is a
// pipeline and requests carry host buffers (Pool.SubmitHost), else tensor sets
// (Pool.Submit). When a core's unit dies the core leaves the pool, PoolConfig.OnCoreLeft
// and PoolConfig.CoreLeft say so, and the other cores serve on; every accepted request
// still resolves exactly once (a retry-safe pool re-runs what the dead core held).
//
//	pool, err := rt.NewPool("model.neff", nrtq.PoolConfig{
//		Pipeline:   &nrtq.PipelineConfig{},
//		OnCoreLeft: func(e nrtq.CoreLeft) { log.Print(e.Err()) },
//	})
//	p, err := pool.SubmitHost(ctx, inputs, outputs)
//	cores, err := pool.Cores()                          // health and load per core
//	err = pool.Close()                                  // resolves everything, then destroys
//
// # Objects and their order
//
// A Runtime loads libnrt; Models are loaded through it; Queues, Pipelines and TensorSets
// are made for Models, Pools straight from a model file. Close them in reverse: tensor
// sets, queues, pipelines and pools, then models, then the runtime; a Close that would
// pull the ground from under another object is refused with ErrBusy. Only one Runtime
// that initialises libnrt may be open in a process at a time.
//
// # Requests
//
// Every queue, pipeline and pool is in nrtq's reap mode. One reaper goroutine per queue
// (or pipeline, or pool) waits on its descriptor in Go's netpoller (no OS thread sits
// blocked in C), reaps completions in batches and resolves each request's Pending,
// which travels through nrtq as a cgo.Handle. Every accepted request resolves exactly
// once: its Done channel closes, and Completion and Err give its outcome. A pool's
// requests cannot be cancelled (nrtq has no pool cancel): Cancel says ErrUnsupported.
//
// A request borrows its tensor sets until it resolves: meanwhile Write, Read and Close on
// them return ErrTensorSetInUse. An input set may serve several requests at once; an
// output set one.
//
// Pending.Cancel takes a request out of the backlog if it has not reached the device:
// it then resolves once, through the reaper in its place in submission order, as
// ErrCancelled, and its sets come back at that point. A request already on the device
// cannot be recalled: Cancel reports false and the request resolves with its own outcome.
//
// Contexts never cancel a request by themselves. Submit's context bounds only its wait
// for backlog room (TrySubmit never waits); Pending.Wait's context bounds only that
// wait: Wait returns ctx.Err(), the request completes later all the same, and its sets
// stay lent until it does. Wait does not call Cancel because a Pending may have several
// waiters, and one of them giving up says nothing about the others; a caller that owns
// the request and wants it gone calls Cancel after Wait returns ctx.Err().
//
// # Shutdown
//
// Queue.Close refuses new submits, waits until the reaper has resolved every accepted
// request, stops the reaper, reaps once more, and only then destroys the queue: nrtq
// discards a reap-mode queue's unreaped completions at destroy, so destroying first would
// leave goroutines waiting forever. Queue.Shutdown(ctx) does the same with a time limit;
// past it, the queue is destroyed at once and the requests still out resolve as
// ErrCancelled with NRTTimeout (their tensor sets, possibly still in the device's hands,
// are never freed).
//
// # Errors
//
// Failed calls and failed requests are *Error values carrying nrtq's status, libnrt's raw
// status and nrtq's per-thread message (read on the failing call's own OS thread). Match
// them with errors.Is against ErrBacklogFull, ErrTimeout, ErrInvalid, ErrClosed,
// ErrExec, ErrQueueFailed, ErrCancelled, ErrDeadline and the other Err* sentinels.
// ErrBacklogFull and ErrTimeout mean "not now": nothing failed.
//
// # Building
//
// cgo takes every flag from pkg-config's nrtq package (#cgo pkg-config: nrtq): libnrtq
// and libnrt, whose headers (nrt/nrt.h, nrt/nrt_experimental.h) and -lnrt this package
// uses directly. Set PKG_CONFIG_PATH to the folder holding nrtq.pc. Package nrtqtest finds
// the emulator's models for tests.
package nrtq
