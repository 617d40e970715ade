// reapdemo: a Go service shape over libnrtq in reap mode.
//
// Several producer goroutines each keep a few requests of their own in flight (one
// tensor-set slot per request) and wait for every result on a channel. One reaper
// goroutine waits on the queue's reap descriptor in Go's netpoller, reaps completions in
// batches, and hands each one back to its request through the cgo.Handle carried as the
// request's 64-bit user_data. Producers that find nrtq's backlog full wait until the
// reaper has freed room, then retry. Every output is checked element by element; the
// program prints its counts and ends with a PASS line, or exits non-zero.
//
//	reapdemo -model nrt-emu/models/add_f32.nrtm [-producers 4] [-requests 200] [-slots 4]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/cgo"
	"sync"
	"time"
)

// stallTimeout bounds every wait for the device, so a lost completion fails the run
// instead of hanging it.
const stallTimeout = 10 * time.Second

// within waits for one value from ch for at most stallTimeout on the caller's timer (one
// per goroutine, stopped between waits; time.After would leave a live timer behind for
// every wait).
func within[T any](t *time.Timer, ch <-chan T) (T, bool) {
	t.Reset(stallTimeout)
	select {
	case v := <-ch:
		if !t.Stop() {
			<-t.C
		}
		return v, true
	case <-t.C:
		var zero T
		return zero, false
	}
}

// newStallTimer is a stopped timer for within.
func newStallTimer() *time.Timer {
	t := time.NewTimer(stallTimeout)
	t.Stop()
	return t
}

// request is what a producer submits and the reaper resolves: the handle to it travels
// through nrtq as user_data.
type request struct {
	done chan Completion // buffered 1: the reaper never blocks on a producer
}

// room lets producers that met NRTQ_BACKLOG_FULL sleep until the reaper has taken
// completions off the queue. A producer takes the current channel before it submits, so
// a reap that happens between its refused submit and its wait still wakes it.
type room struct {
	mu sync.Mutex
	ch chan struct{}
}

func newRoom() *room { return &room{ch: make(chan struct{})} }

func (r *room) current() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ch
}

func (r *room) ring() {
	r.mu.Lock()
	close(r.ch)
	r.ch = make(chan struct{})
	r.mu.Unlock()
}

// reaper counts what the reap goroutine saw; read only after it has stopped.
type reaper struct {
	reaped, wakeups, batches, multi, largest int
	err                                      error
}

// reap runs until the waiter is stopped: each wake-up reaps batches until one comes back
// empty, resolves each completion's handle to its request, and rings room once per batch.
func (rp *reaper) reap(q *Queue, w *ReapWaiter, rm *room) {
	buf := make([]Completion, 64)
	err := w.Run(func() bool {
		rp.wakeups++
		for {
			n, err := q.Reap(buf)
			if err != nil {
				rp.err = err
				return true
			}
			if n == 0 {
				return false
			}
			rp.batches++
			if n > 1 {
				rp.multi++
			}
			if n > rp.largest {
				rp.largest = n
			}
			for _, c := range buf[:n] {
				h := cgo.Handle(c.UserData)
				req := h.Value().(*request)
				h.Delete() // a second delivery of this user_data would now panic, loudly
				req.done <- c
				rp.reaped++
			}
			rm.ring()
		}
	})
	if rp.err == nil {
		rp.err = err
	}
}

// tally is one producer's results.
type tally struct {
	submitted, verified, failed, wrongRequests, wrongElems, retries int
}

// inFlight is a submitted request the producer has not yet checked.
type inFlight struct {
	slot   *Slot
	req    *request
	ticket uint64
	base   float32
}

// produce submits n requests, keeping up to len(slots) of them in flight, and checks each
// result in submission order: a[i] = base + i, b[i] = 2i, so out[i] must be base + 3i.
func produce(id, n int, q *Queue, slots []*Slot, rm *room) (tally, error) {
	var t tally
	free := append([]*Slot(nil), slots...)
	var pending []inFlight
	a := make([]float32, Elems)
	out := make([]float32, Elems)
	timer := newStallTimer()
	next := 0
	for next < n || len(pending) > 0 {
		for next < n && len(free) > 0 {
			slot := free[len(free)-1]
			base := float32(id*n + next)
			for i := range a {
				a[i] = base + float32(i)
			}
			if err := slot.WriteA(a); err != nil {
				return t, err
			}
			req := &request{done: make(chan Completion, 1)}
			h := cgo.NewHandle(req)
			ticket, err := submit(q, slot, h, rm, timer, &t)
			if err != nil {
				h.Delete()
				return t, err
			}
			free = free[:len(free)-1]
			pending = append(pending, inFlight{slot: slot, req: req, ticket: ticket, base: base})
			t.submitted++
			next++
		}
		head := pending[0]
		pending = pending[1:]
		c, ok := within(timer, head.req.done)
		if !ok {
			return t, fmt.Errorf("producer %d: ticket %d not completed within %v", id, head.ticket, stallTimeout)
		}
		free = append(free, head.slot)
		if c.Ticket != head.ticket {
			return t, fmt.Errorf("producer %d: completion for ticket %d carried ticket %d", id, head.ticket, c.Ticket)
		}
		if c.Status != StatusOK {
			fmt.Fprintf(os.Stderr, "producer %d: ticket %d: %v (NRT status %d)\n", id, c.Ticket, c.Status, c.NRTStatus)
			t.failed++
			continue
		}
		if err := head.slot.ReadOut(out); err != nil {
			return t, err
		}
		wrong := 0
		for i, v := range out {
			if v != head.base+3*float32(i) {
				wrong++
			}
		}
		if wrong > 0 {
			t.wrongRequests++
			t.wrongElems += wrong
		} else {
			t.verified++
		}
	}
	return t, nil
}

// submit retries a request refused with NRTQ_BACKLOG_FULL once the reaper has made room.
func submit(q *Queue, slot *Slot, h cgo.Handle, rm *room, timer *time.Timer, t *tally) (uint64, error) {
	for {
		roomCh := rm.current()
		ticket, err := q.Submit(slot, uint64(h))
		if !IsStatus(err, StatusBacklogFull) {
			return ticket, err
		}
		t.retries++
		if _, ok := within(timer, roomCh); !ok {
			return 0, fmt.Errorf("backlog still full after %v", stallTimeout)
		}
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reapdemo:", err)
		fmt.Println("FAIL: nrtq_go")
		os.Exit(1)
	}
}

func run() error {
	model := flag.String("model", "", "an add_f32-family model file (inputs a, b; output out = a + b; f32[1024])")
	producers := flag.Int("producers", 4, "producer goroutines")
	perProducer := flag.Int("requests", 200, "requests per producer")
	slots := flag.Int("slots", 4, "requests each producer keeps in flight (one tensor-set slot each)")
	depth := flag.Uint("depth", 3, "requests nrtq keeps on the device")
	backlog := flag.Uint("backlog", 4, "nrtq's software backlog (small, so producers meet NRTQ_BACKLOG_FULL)")
	flag.Parse()
	if *model == "" || *producers < 1 || *perProducer < 1 || *slots < 1 {
		flag.Usage()
		return errors.New("need -model and positive -producers, -requests, -slots")
	}
	// Inputs stay exact in f32 (a + b < 2^24) so outputs compare with ==.
	if (*producers)*(*perProducer)+3*Elems >= 1<<24 {
		return errors.New("too many requests for exact f32 checks")
	}

	// The per-thread message: the failing call and its read share one OS thread.
	probe := ProbeLastError()
	if !IsStatus(probe, StatusInvalid) {
		return fmt.Errorf("probe: a depth of 0 gave %v, want NRTQ_ERR_INVALID", probe)
	}
	fmt.Println("last-error probe:", probe)

	rt, err := OpenRuntime()
	if err != nil {
		return err
	}
	gen, err := rt.Generation()
	if err != nil {
		return err
	}
	ver, err := rt.Version()
	if err != nil {
		return err
	}
	m, err := LoadModel(*model)
	if err != nil {
		return err
	}
	q, err := rt.NewReapQueue(m, uint32(*depth), uint32(*backlog))
	if err != nil {
		return err
	}
	w, err := q.NewReapWaiter()
	if err != nil {
		return err
	}

	// Tensor sets for every slot, b filled once (it never changes).
	b := make([]float32, Elems)
	for i := range b {
		b[i] = 2 * float32(i)
	}
	all := make([][]*Slot, *producers)
	for p := range all {
		for s := 0; s < *slots; s++ {
			slot, err := NewSlot()
			if err != nil {
				return err
			}
			if err := slot.WriteB(b); err != nil {
				return err
			}
			all[p] = append(all[p], slot)
		}
	}

	rm := newRoom()
	var rp reaper
	reaperDone := make(chan struct{})
	go func() {
		defer close(reaperDone)
		rp.reap(q, w, rm)
	}()

	start := time.Now()
	tallies := make([]tally, *producers)
	errs := make([]error, *producers)
	var wg sync.WaitGroup
	for p := 0; p < *producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			tallies[p], errs[p] = produce(p, *perProducer, q, all[p], rm)
		}(p)
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Every producer has its results; the queue must be empty with nothing left to reap.
	drainErr := q.Drain(stallTimeout)
	stopErr := w.Stop()
	<-reaperDone
	closeWaiterErr := w.Close()
	var leftover [8]Completion
	nLeft, reapErr := q.Reap(leftover[:])
	stats, statsErr := q.Stats()
	destroyErr := q.Destroy(stallTimeout)
	for _, ps := range all {
		for _, s := range ps {
			s.Free()
		}
	}
	unloadErr := m.Unload()
	closeErr := rt.Close()
	for _, e := range append(errs, rp.err, drainErr, stopErr, closeWaiterErr, reapErr, statsErr, destroyErr, unloadErr, closeErr) {
		if e != nil {
			return e
		}
	}

	var sum tally
	for _, t := range tallies {
		sum.submitted += t.submitted
		sum.verified += t.verified
		sum.failed += t.failed
		sum.wrongRequests += t.wrongRequests
		sum.wrongElems += t.wrongElems
		sum.retries += t.retries
	}
	total := (*producers) * (*perProducer)
	fmt.Printf("libnrt %s, async generation %d\n", ver, gen)
	fmt.Printf("producers %d x %d requests, %d in flight each; depth %d, backlog %d\n",
		*producers, *perProducer, *slots, *depth, *backlog)
	fmt.Printf("submitted %d, reaped %d, verified %d, wrong requests %d, wrong elements %d, failed %d\n",
		sum.submitted, rp.reaped, sum.verified, sum.wrongRequests, sum.wrongElems, sum.failed)
	fmt.Printf("backlog-full retries %d; reaper wake-ups %d, batches %d (%d of more than one, largest %d)\n",
		sum.retries, rp.wakeups, rp.batches, rp.multi, rp.largest)
	fmt.Printf("nrtq stats: submitted %d, completed %d, failed %d; completion->reap p50 %.1f us, p99 %.1f us\n",
		stats.Submitted, stats.Completed, stats.Failed,
		float64(stats.NotifyP50)/1e3, float64(stats.NotifyP99)/1e3)
	fmt.Printf("%d requests in %v (%.0f per second)\n", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds())

	ok := sum.submitted == total && rp.reaped == total && nLeft == 0 &&
		sum.verified == total && sum.wrongElems == 0 && sum.failed == 0 &&
		stats.Submitted == uint64(total) && stats.Completed == uint64(total)
	if !ok {
		return fmt.Errorf("counts do not add up (leftover completions %d)", nLeft)
	}
	fmt.Printf("PASS: nrtq_go %d of %d requests verified, 0 wrong elements, 0 failed\n", sum.verified, total)
	return nil
}
