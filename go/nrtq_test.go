package nrtq_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"nrtq.dev/go/nrtq"
	"nrtq.dev/go/nrtq/nrtqtest"
)

// watchdog bounds every wait on the device: a lost completion fails the test instead of
// hanging it.
const watchdog = 20 * time.Second

// One runtime for the test binary: only one runtime that initialises libnrt may be open
// in a process at a time.
var (
	rt        *nrtq.Runtime
	addModel  *nrtq.Model
	modelsDir string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	var err error
	if modelsDir, err = nrtqtest.EmulatorModels(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if rt, err = nrtq.Open(); err != nil {
		fmt.Fprintln(os.Stderr, "Open:", err)
		return 1
	}
	if addModel, err = rt.LoadModel(filepath.Join(modelsDir, "add_f32.nrtm")); err != nil {
		fmt.Fprintln(os.Stderr, "LoadModel:", err)
		return 1
	}
	code := m.Run()
	// Closing in order must work once every test has cleaned up after itself.
	if err := addModel.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "Model.Close:", err)
		code = 1
	}
	if err := rt.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "Runtime.Close:", err)
		code = 1
	}
	return code
}

func watchdogCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	t.Cleanup(cancel)
	return ctx
}

// loadText loads a model written for the test (the emulator's text format).
func loadText(t *testing.T, text string) *nrtq.Model {
	t.Helper()
	m, err := rt.LoadModelBytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Model.Close: %v", err)
		}
	})
	return m
}

// slowAdd is add_f32 taking d on the device: long enough that a test can act while a
// request is certainly still there.
func slowAdd(t *testing.T, d time.Duration) *nrtq.Model {
	return loadText(t, fmt.Sprintf("nrt-emu-model 1\nname slow_add\ntime_ns %d\n"+
		"input a f32 1024\ninput b f32 1024\noutput out f32 1024\nop add out a b\nend\n", d.Nanoseconds()))
}

// sets allocates an input and an output set of m, closed at the end of the test.
func sets(t *testing.T, m *nrtq.Model) (in, out *nrtq.TensorSet) {
	t.Helper()
	in, err := m.NewInputs()
	if err != nil {
		t.Fatal(err)
	}
	out, err = m.NewOutputs()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range []*nrtq.TensorSet{in, out} {
			if err := s.Close(); err != nil {
				t.Errorf("TensorSet.Close: %v", err)
			}
		}
	})
	return in, out
}

func newQueue(t *testing.T, m *nrtq.Model, opts ...nrtq.QueueOption) *nrtq.Queue {
	t.Helper()
	q, err := rt.NewQueue(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// fillAdd writes a[i] = base + i and b[i] = 2i; out must then be base + 3i (exact in f32).
func fillAdd(t *testing.T, in *nrtq.TensorSet, base float32) {
	a := make([]float32, 1024)
	b := make([]float32, 1024)
	for i := range a {
		a[i] = base + float32(i)
		b[i] = 2 * float32(i)
	}
	if err := nrtq.WriteValues(in, "a", a); err != nil {
		t.Error(err)
	}
	if err := nrtq.WriteValues(in, "b", b); err != nil {
		t.Error(err)
	}
}

// checkAdd counts the wrong elements of out against fillAdd's base.
func checkAdd(out *nrtq.TensorSet, base float32) (wrong int, err error) {
	got := make([]float32, 1024)
	if err := nrtq.ReadValues(out, "out", got); err != nil {
		return 0, err
	}
	for i, v := range got {
		if v != base+3*float32(i) {
			wrong++
		}
	}
	return wrong, nil
}

func TestRuntimeReportsTheEmulatorGeneration(t *testing.T) {
	gen, err := rt.Generation()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]nrtq.Generation{"2.28": nrtq.Generation228, "2.29": nrtq.Generation229, "2.30": nrtq.Generation230}
	if api := os.Getenv("NRT_EMU_API"); api != "" && gen != want[api] {
		t.Errorf("NRT_EMU_API=%s but the runtime reports generation %d", api, gen)
	}
	if v, err := rt.Version(); err != nil || v == "" {
		t.Errorf("Version() = %q, %v", v, err)
	}
}

func TestModelTensorInfo(t *testing.T) {
	in := addModel.Inputs()
	out := addModel.Outputs()
	if len(in) != 2 || in[0].Name != "a" || in[1].Name != "b" || len(out) != 1 || out[0].Name != "out" {
		t.Fatalf("add_f32: inputs %v, outputs %v", in, out)
	}
	for _, ti := range append(in, out...) {
		if ti.Size != 4096 || ti.DType != nrtq.DTypeFloat32 || len(ti.Shape) != 1 || ti.Shape[0] != 1024 {
			t.Errorf("add_f32 tensor %v, want f32[1024] of 4096 bytes", ti)
		}
	}
	chain, err := rt.LoadModel(filepath.Join(modelsDir, "chain_f32.nrtm"))
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	var names []string
	for _, ti := range chain.Outputs() {
		names = append(names, ti.Name)
		if ti.Usage != nrtq.Output || ti.Size != 64 || fmt.Sprint(ti.Shape) != "[4 4]" {
			t.Errorf("chain_f32 output %v, want f32[4 4] of 64 bytes", ti)
		}
	}
	if strings.Join(names, ",") != "sum,diff,prod,half" {
		t.Errorf("chain_f32 outputs %v", names)
	}
}

// A model with several inputs and outputs of another shape, through the same API.
func TestAnyModelChain(t *testing.T) {
	chain, err := rt.LoadModel(filepath.Join(modelsDir, "chain_f32.nrtm"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := chain.Close(); err != nil {
			t.Error(err)
		}
	}()
	in, out := setsNoCleanup(t, chain)
	a := make([]float32, 16)
	b := make([]float32, 16)
	for i := range a {
		a[i] = float32(i + 3)
		b[i] = float32(i)
	}
	if err := nrtq.WriteValues(in, "a", a); err != nil {
		t.Fatal(err)
	}
	if err := nrtq.WriteValues(in, "b", b); err != nil {
		t.Fatal(err)
	}
	q := newQueue(t, chain)
	p, err := q.Submit(watchdogCtx(t), in, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	for _, ti := range out.Tensors() {
		v := make([]float32, 16)
		if err := nrtq.ReadValues(out, ti.Name, v); err != nil {
			t.Fatal(err)
		}
		got[ti.Name] = v
	}
	for i := range a {
		sum, diff := a[i]+b[i], a[i]-b[i]
		if got["sum"][i] != sum || got["diff"][i] != diff || got["prod"][i] != sum*diff || got["half"][i] != sum*diff*0.5 {
			t.Fatalf("element %d: sum %v diff %v prod %v half %v", i, got["sum"][i], got["diff"][i], got["prod"][i], got["half"][i])
		}
	}
	for _, s := range []*nrtq.TensorSet{in, out} {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func setsNoCleanup(t *testing.T, m *nrtq.Model) (in, out *nrtq.TensorSet) {
	t.Helper()
	in, err := m.NewInputs()
	if err != nil {
		t.Fatal(err)
	}
	if out, err = m.NewOutputs(); err != nil {
		t.Fatal(err)
	}
	return in, out
}

func TestTensorSetChecksNameTypeAndSize(t *testing.T) {
	in, out := sets(t, addModel)
	var e *nrtq.Error
	err := nrtq.WriteValues(in, "a", make([]int32, 1024))
	if !errors.Is(err, nrtq.ErrInvalid) || !strings.Contains(err.Error(), "f32") {
		t.Errorf("int32 values into an f32 tensor: %v", err)
	}
	err = nrtq.WriteValues(in, "a", make([]float32, 1000))
	if !errors.Is(err, nrtq.ErrInvalid) || !strings.Contains(err.Error(), "4000 bytes, want exactly 4096") {
		t.Errorf("1000 values into f32[1024]: %v", err)
	}
	err = in.Write("c", make([]byte, 4096))
	if !errors.As(err, &e) || e.Status != nrtq.StatusInvalid || !strings.Contains(e.Message, `"c"`) ||
		!strings.Contains(e.Message, `["a" "b"]`) {
		t.Errorf("unknown tensor name: %v", err)
	}
	if err := out.ReadIndex(1, make([]byte, 4096)); !errors.Is(err, nrtq.ErrInvalid) {
		t.Errorf("index 1 of a 1-tensor set: %v", err)
	}
	// Bytes by index, then typed by name, see the same memory.
	raw := make([]byte, 4096)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	if err := in.WriteIndex(1, raw); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, 4096)
	if err := in.Read("b", back); err != nil || string(back) != string(raw) {
		t.Errorf("Read after WriteIndex: %v, equal %v", err, string(back) == string(raw))
	}
}

// Many goroutines submit at once through a small backlog (so Submit waits for room),
// each keeping several requests in flight; every completion arrives exactly once, with
// its own ticket, and every output is right.
func TestConcurrentSubmitsCompleteExactlyOnce(t *testing.T) {
	const producers, perProducer, slots = 16, 40, 3
	baseline := runtime.NumGoroutine()
	q := newQueue(t, addModel, nrtq.WithDepth(3), nrtq.WithBacklog(8))
	all := make([][]slot, producers)
	for p := range all {
		for s := 0; s < slots; s++ {
			in, out := sets(t, addModel)
			all[p] = append(all[p], slot{in, out})
		}
	}
	var mu sync.Mutex
	seen := map[uint64]int{}
	errs := make(chan error, producers)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			errs <- produce(q, p, perProducer, all[p], &mu, seen)
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	total := producers * perProducer
	if len(seen) != total {
		t.Errorf("%d distinct tickets completed, want %d", len(seen), total)
	}
	for ticket := uint64(1); ticket <= uint64(total); ticket++ {
		if seen[ticket] != 1 {
			t.Errorf("ticket %d completed %d times", ticket, seen[ticket])
		}
	}
	st, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submitted != uint64(total) || st.Completed != uint64(total) || st.Resolved != uint64(total) || st.Failed != 0 {
		t.Errorf("stats: %+v, want %d submitted, completed and resolved", st, total)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	noGoroutineLeft(t, baseline)
}

// slot is one request's tensor sets.
type slot struct{ in, out *nrtq.TensorSet }

// produce keeps up to len(slots) requests in flight and checks each in order.
func produce(q *nrtq.Queue, id, n int, slots []slot, mu *sync.Mutex, seen map[uint64]int) error {
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	type inFlight struct {
		p    *nrtq.Pending
		s    int
		base float32
	}
	var pending []inFlight
	free := []int{}
	for s := range slots {
		free = append(free, s)
	}
	next := 0
	for next < n || len(pending) > 0 {
		for next < n && len(free) > 0 {
			s := free[len(free)-1]
			free = free[:len(free)-1]
			base := float32(id*n + next)
			if err := writeAdd(slots[s].in, base); err != nil {
				return err
			}
			p, err := q.Submit(ctx, slots[s].in, slots[s].out)
			if err != nil {
				return fmt.Errorf("producer %d: %w", id, err)
			}
			pending = append(pending, inFlight{p, s, base})
			next++
		}
		head := pending[0]
		pending = pending[1:]
		if err := head.p.Wait(ctx); err != nil {
			return fmt.Errorf("producer %d, ticket %d: %w", id, head.p.Ticket(), err)
		}
		c, ok := head.p.Completion()
		if !ok || c.Ticket != head.p.Ticket() {
			return fmt.Errorf("producer %d: completion %+v (ok %v) for ticket %d", id, c, ok, head.p.Ticket())
		}
		mu.Lock()
		seen[c.Ticket]++
		mu.Unlock()
		if wrong, err := checkAdd(slots[head.s].out, head.base); err != nil || wrong != 0 {
			return fmt.Errorf("producer %d, ticket %d: %d wrong elements (%v)", id, c.Ticket, wrong, err)
		}
		free = append(free, head.s)
	}
	return nil
}

func writeAdd(in *nrtq.TensorSet, base float32) error {
	a := make([]float32, 1024)
	b := make([]float32, 1024)
	for i := range a {
		a[i] = base + float32(i)
		b[i] = 2 * float32(i)
	}
	if err := nrtq.WriteValues(in, "a", a); err != nil {
		return err
	}
	return nrtq.WriteValues(in, "b", b)
}

// noGoroutineLeft waits (bounded) for the goroutine count to return to baseline: the
// queue's reaper must have exited.
func noGoroutineLeft(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), baseline,
				buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

// The shutdown trap: Close right after submitting, with requests in the backlog and on
// the device and few reaped yet. Every Pending must be resolved by the time Close
// returns, each with its real outcome (none dropped, none cancelled), and the reaper
// must be gone.
func TestCloseReapsEveryCompletionBeforeDestroy(t *testing.T) {
	const requests = 48
	slow := slowAdd(t, 2*time.Millisecond) // about 100 ms of work per round
	for round := 0; round < 3; round++ {
		baseline := runtime.NumGoroutine()
		q := newQueue(t, slow, nrtq.WithBacklog(1024))
		type req struct {
			p       *nrtq.Pending
			in, out *nrtq.TensorSet
			base    float32
		}
		reqs := make([]req, requests)
		for i := range reqs {
			in, out := sets(t, slow)
			base := float32(round*requests + i)
			fillAdd(t, in, base)
			p, err := q.TrySubmit(in, out)
			if err != nil {
				t.Fatal(err)
			}
			reqs[i] = req{p, in, out, base}
		}
		outstanding := 0
		for _, r := range reqs {
			if _, done := r.p.Completion(); !done {
				outstanding++
			}
		}
		if outstanding == 0 {
			t.Fatalf("round %d: every request completed before Close: the test proves nothing", round)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			c, ok := r.p.Completion()
			if !ok {
				t.Fatalf("round %d: ticket %d still pending after Close", round, r.p.Ticket())
			}
			if c.Status != nrtq.StatusOK {
				t.Errorf("round %d: ticket %d completed as %v", round, c.Ticket, c.Err())
			}
			if wrong, err := checkAdd(r.out, r.base); err != nil || wrong != 0 {
				t.Errorf("round %d: ticket %d: %d wrong elements (%v)", round, c.Ticket, wrong, err)
			}
		}
		t.Logf("round %d: %d of %d requests outstanding at Close", round, outstanding, requests)
		noGoroutineLeft(t, baseline)
	}
}

func TestOpenNamesTheLibraryItCouldNotLoad(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libnrt.so.1")
	r, err := nrtq.Open(nrtq.WithLibrary(missing))
	var e *nrtq.Error
	if r != nil || !errors.Is(err, nrtq.ErrLoad) || !errors.As(err, &e) || !strings.Contains(e.Message, missing) {
		t.Errorf("Open of a missing library: %v", err)
	}
}

func TestBacklogFullSurfacesAsErrBacklogFull(t *testing.T) {
	slow := slowAdd(t, 300*time.Millisecond)
	// One request on the device, one in the backlog, pinned (max depth = depth).
	q := newQueue(t, slow, nrtq.WithDepth(1), nrtq.WithMaxDepth(1), nrtq.WithBacklog(1))
	in, out1 := sets(t, slow)
	out2, err := slow.NewOutputs()
	if err != nil {
		t.Fatal(err)
	}
	out3, err := slow.NewOutputs()
	if err != nil {
		t.Fatal(err)
	}
	fillAdd(t, in, 1)
	// One input set may serve several requests at once; an output set only one.
	p1, err := q.TrySubmit(in, out1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.TrySubmit(in, out1); !errors.Is(err, nrtq.ErrTensorSetInUse) {
		t.Errorf("a second request on a lent output set: %v", err)
	}
	p2, err := q.TrySubmit(in, out2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.TrySubmit(in, out3)
	var e *nrtq.Error
	if !errors.Is(err, nrtq.ErrBacklogFull) || errors.Is(err, nrtq.ErrQueueFailed) ||
		!errors.As(err, &e) || e.Status != nrtq.StatusBacklogFull {
		t.Fatalf("third request on a full queue: %v", err)
	}
	// Submit waits for room, and gives up with its context: the error is both.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := q.Submit(ctx, in, out3); !errors.Is(err, nrtq.ErrBacklogFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit on a full queue past its deadline: %v", err)
	}
	// A context already cancelled submits nothing.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if p, err := q.Submit(done, in, out3); p != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Submit with a cancelled context: %v, %v", p, err)
	}
	// Room appears when the first request completes: a waiting Submit then succeeds.
	p3, err := q.Submit(watchdogCtx(t), in, out3)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*nrtq.Pending{p1, p2, p3} {
		if err := p.Err(); err != nil {
			t.Errorf("ticket %d: %v", p.Ticket(), err)
		}
	}
	for _, s := range []*nrtq.TensorSet{out2, out3} {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestClosedQueueRefusesWork(t *testing.T) {
	q := newQueue(t, addModel)
	in, out := sets(t, addModel)
	if err := addModel.Close(); !errors.Is(err, nrtq.ErrBusy) {
		t.Errorf("closing a model with an open queue: %v", err)
	}
	if err := rt.Close(); !errors.Is(err, nrtq.ErrBusy) {
		t.Errorf("closing the runtime with a model open: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.TrySubmit(in, out); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("TrySubmit after Close: %v", err)
	}
	if _, err := q.Submit(watchdogCtx(t), in, out); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	if _, err := q.Stats(); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("Stats after Close: %v", err)
	}
	if err := q.Close(); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if err := q.Drain(watchdogCtx(t)); err != nil {
		t.Errorf("Drain of a closed, empty queue: %v", err)
	}
}

// A cancelled context ends the wait, not the request: it completes later, exactly once,
// and its tensor sets stay lent until then.
func TestContextCancelStopsTheWaitNotTheRequest(t *testing.T) {
	slow := slowAdd(t, 200*time.Millisecond)
	q := newQueue(t, slow)
	in, out := sets(t, slow)
	fillAdd(t, in, 5)
	p, err := q.Submit(watchdogCtx(t), in, out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
	if err := p.Err(); !errors.Is(err, nrtq.ErrNotDone) {
		t.Errorf("Err before completion: %v", err)
	}
	if err := out.Read("out", make([]byte, 4096)); !errors.Is(err, nrtq.ErrTensorSetInUse) {
		t.Errorf("reading a lent output set: %v", err)
	}
	if err := in.Write("a", make([]byte, 4096)); !errors.Is(err, nrtq.ErrTensorSetInUse) {
		t.Errorf("writing a lent input set: %v", err)
	}
	if err := out.Close(); !errors.Is(err, nrtq.ErrTensorSetInUse) {
		t.Errorf("closing a lent output set: %v", err)
	}
	select {
	case <-p.Done():
	case <-time.After(watchdog):
		t.Fatal("the request never completed")
	}
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if wrong, err := checkAdd(out, 5); err != nil || wrong != 0 {
		t.Errorf("%d wrong elements (%v)", wrong, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

// Shutdown whose context has ended does not wait for the device: every Pending still
// resolves (as cancelled), and the tensor sets left on the device are never freed.
func TestShutdownPastItsContextResolvesEveryPending(t *testing.T) {
	slow := slowAdd(t, 300*time.Millisecond)
	q := newQueue(t, slow, nrtq.WithDepth(1), nrtq.WithMaxDepth(1))
	var ps []*nrtq.Pending
	var outs []*nrtq.TensorSet
	in, err := slow.NewInputs()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		out, err := slow.NewOutputs()
		if err != nil {
			t.Fatal(err)
		}
		p, err := q.TrySubmit(in, out)
		if err != nil {
			t.Fatal(err)
		}
		ps, outs = append(ps, p), append(outs, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Shutdown(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "3 request(s) abandoned") {
		t.Fatalf("Shutdown with an ended context: %v", err)
	}
	for _, p := range ps {
		c, ok := p.Completion()
		if !ok || !errors.Is(c.Err(), nrtq.ErrCancelled) || c.NRTStatus != nrtq.NRTTimeout {
			t.Errorf("ticket %d after an abandoning Shutdown: %+v (done %v)", p.Ticket(), c, ok)
		}
	}
	if err := in.Write("a", make([]byte, 4096)); !errors.Is(err, nrtq.ErrCancelled) {
		t.Errorf("writing an abandoned set: %v", err)
	}
	for _, s := range append(outs, in) {
		if err := s.Close(); err != nil {
			t.Errorf("closing an abandoned set: %v", err)
		}
	}
}

// A dying execution unit: requests after the fault complete as ErrQueueFailed with the
// raw status, later submits are refused with it, and Failure reports it. The emulator
// counts requests per execution unit for the whole process, and the model's fault fires
// at request 6, so it runs on logical core 1, which no other test uses.
func TestQueueFailureSurfacesAsErrQueueFailed(t *testing.T) {
	dies, err := rt.LoadModel(filepath.Join(modelsDir, "add_f32_dies.nrtm"), nrtq.OnCores(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dies.Close(); err != nil {
			t.Error(err)
		}
	}()
	q := newQueue(t, dies)
	in, err := dies.NewInputs()
	if err != nil {
		t.Fatal(err)
	}
	var ps []*nrtq.Pending
	var outs []*nrtq.TensorSet
	for i := 0; i < 12; i++ {
		out, err := dies.NewOutputs()
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
		p, err := q.Submit(watchdogCtx(t), in, out)
		if err != nil {
			if !errors.Is(err, nrtq.ErrQueueFailed) {
				t.Fatalf("submit %d: %v", i, err)
			}
			break
		}
		ps = append(ps, p)
	}
	if err := q.Drain(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	ok, failed := 0, 0
	for _, p := range ps {
		err := p.Err()
		var e *nrtq.Error
		switch {
		case err == nil:
			if failed > 0 {
				t.Errorf("ticket %d succeeded after a failure", p.Ticket())
			}
			ok++
		case errors.Is(err, nrtq.ErrQueueFailed) && errors.As(err, &e) && e.NRTStatus == 101:
			failed++
		default:
			t.Errorf("ticket %d: %v", p.Ticket(), err)
		}
	}
	if ok != 5 || failed == 0 {
		t.Errorf("%d succeeded, %d failed: want 5 (the model's fault fires at request 6), then failures", ok, failed)
	}
	_, err = q.TrySubmit(in, outs[0])
	var e *nrtq.Error
	if !errors.Is(err, nrtq.ErrQueueFailed) || !errors.As(err, &e) || e.NRTStatus != 101 ||
		!strings.Contains(err.Error(), "NRT_EXEC_UNIT_UNRECOVERABLE") {
		t.Errorf("submit to a failed queue: %v", err)
	}
	if err := q.Failure(); !errors.Is(err, nrtq.ErrQueueFailed) {
		t.Errorf("Failure: %v", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(outs, in) {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

// nrtq_last_error is per OS thread: many goroutines making different invalid calls at
// once each get their own call's message.
func TestErrorMessagesStayWithTheirCall(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			opt, word := nrtq.WithDepth(0), "depth"
			if g%2 == 1 {
				opt, word = nrtq.WithBacklog(1<<25), "backlog"
			}
			q, err := rt.NewQueue(addModel, opt)
			var e *nrtq.Error
			if q != nil || !errors.Is(err, nrtq.ErrInvalid) || !errors.As(err, &e) ||
				!strings.Contains(strings.ToLower(e.Message), word) {
				errs <- fmt.Errorf("goroutine %d: an invalid %s gave %v", g, word, err)
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Close while many goroutines are submitting: each submit is either accepted, and then
// resolved by the time Close returns, or refused with ErrClosed; nobody is left waiting.
func TestCloseRacingSubmitters(t *testing.T) {
	const submitters = 16
	q := newQueue(t, addModel, nrtq.WithBacklog(16))
	var mu sync.Mutex
	var accepted []*nrtq.Pending
	started := make(chan struct{}, submitters*4)
	errs := make(chan error, submitters)
	var wg sync.WaitGroup
	for g := 0; g < submitters; g++ {
		in, out := sets(t, addModel)
		fillAdd(t, in, float32(g))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, err := q.Submit(watchdogCtx(t), in, out)
				if errors.Is(err, nrtq.ErrClosed) {
					errs <- nil
					return
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				accepted = append(accepted, p)
				mu.Unlock()
				select {
				case started <- struct{}{}:
				default:
				}
				select {
				case <-p.Done():
				case <-time.After(watchdog):
					errs <- fmt.Errorf("ticket %d never resolved", p.Ticket())
					return
				}
			}
		}()
	}
	for i := 0; i < submitters*2; i++ {
		<-started
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, p := range accepted {
		if c, ok := p.Completion(); !ok || c.Status != nrtq.StatusOK {
			t.Errorf("ticket %d after Close: %+v (done %v)", p.Ticket(), c, ok)
		}
	}
	n := len(accepted)
	mu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d requests accepted before Close", n)
}

// Cancel takes back only what has not reached the device. With depth pinned to 1, the
// first request goes straight to the device and the others wait in the backlog: the last
// one is cancelled (it resolves once, as ErrCancelled, after the ones before it), the
// first one is too late, and the rest complete normally.
func TestCancelTakesBackOnlyBackloggedRequests(t *testing.T) {
	slow := slowAdd(t, 200*time.Millisecond)
	q := newQueue(t, slow, nrtq.WithDepth(1), nrtq.WithMaxDepth(1))
	in, err := slow.NewInputs()
	if err != nil {
		t.Fatal(err)
	}
	fillAdd(t, in, 7)
	const n = 4
	ps := make([]*nrtq.Pending, n)
	outs := make([]*nrtq.TensorSet, n)
	for i := range ps {
		if outs[i], err = slow.NewOutputs(); err != nil {
			t.Fatal(err)
		}
		if ps[i], err = q.TrySubmit(in, outs[i]); err != nil {
			t.Fatal(err)
		}
	}
	first, last := ps[0], ps[n-1]

	if ok, err := last.Cancel(); !ok || err != nil {
		t.Fatalf("cancelling backlogged ticket %d: %v, %v", last.Ticket(), ok, err)
	}
	// Cancelled, but it resolves in its place, after the requests before it: its output
	// set stays lent until then.
	if _, done := last.Completion(); done {
		t.Error("the cancelled request resolved before the requests submitted ahead of it")
	}
	if err := outs[n-1].Read("out", make([]byte, 4096)); !errors.Is(err, nrtq.ErrTensorSetInUse) {
		t.Errorf("reading the cancelled request's output before it resolved: %v", err)
	}
	// A second cancel of the same request finds it gone from the backlog.
	if ok, err := last.Cancel(); ok || err != nil {
		t.Errorf("cancelling ticket %d twice: %v, %v", last.Ticket(), ok, err)
	}
	if ok, err := first.Cancel(); ok || err != nil {
		t.Errorf("cancelling ticket %d, already on the device: %v, %v", first.Ticket(), ok, err)
	}

	select {
	case <-last.Done():
	case <-time.After(watchdog):
		t.Fatal("the cancelled request never resolved")
	}
	c, _ := last.Completion()
	var e *nrtq.Error
	if err := last.Err(); !errors.Is(err, nrtq.ErrCancelled) || !errors.As(err, &e) ||
		c.Status != nrtq.StatusCancelled || c.NRTStatus != nrtq.NRTSuccess || c.Ticket != last.Ticket() {
		t.Errorf("the cancelled request resolved as %+v (%v)", c, err)
	}
	for i, p := range ps[:n-1] {
		c, done := p.Completion()
		if !done {
			t.Errorf("ticket %d was still out when the later, cancelled ticket %d resolved", p.Ticket(), last.Ticket())
			continue
		}
		if c.Status != nrtq.StatusOK {
			t.Errorf("ticket %d: %v", p.Ticket(), c.Err())
		}
		if wrong, err := checkAdd(outs[i], 7); err != nil || wrong != 0 {
			t.Errorf("ticket %d: %d wrong elements (%v)", p.Ticket(), wrong, err)
		}
	}
	// The cancelled request's sets came back with its resolution.
	if err := outs[n-1].Read("out", make([]byte, 4096)); err != nil {
		t.Errorf("reading the cancelled request's output after it resolved: %v", err)
	}
	for _, p := range []*nrtq.Pending{first, last, ps[1]} {
		if ok, err := p.Cancel(); ok || err != nil {
			t.Errorf("cancelling resolved ticket %d: %v, %v", p.Ticket(), ok, err)
		}
	}
	st, err := q.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Resolved != n || st.Cancelled != 1 || st.Submitted != n {
		t.Errorf("stats after %d submits, one cancelled: %+v", n, st)
	}
	// Close reaps once more: a second delivery of the cancelled request would panic the
	// reaper's handle lookup there.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := last.Err(); !errors.Is(err, nrtq.ErrCancelled) {
		t.Errorf("the cancelled request's outcome changed after Close: %v", err)
	}
	for _, s := range append(outs, in) {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
	var nilPending *nrtq.Pending
	if ok, err := nilPending.Cancel(); ok || !errors.Is(err, nrtq.ErrNull) {
		t.Errorf("Cancel on a nil Pending: %v, %v", ok, err)
	}
}

// Cancelling while Close drains the queue makes Close finish sooner: the backlogged
// requests resolve as cancelled and Close still returns with every Pending resolved.
func TestCancelDuringCloseResolvesTheBacklog(t *testing.T) {
	slow := slowAdd(t, 200*time.Millisecond)
	q := newQueue(t, slow, nrtq.WithDepth(1), nrtq.WithMaxDepth(1))
	in, err := slow.NewInputs()
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	ps := make([]*nrtq.Pending, n)
	outs := make([]*nrtq.TensorSet, n)
	for i := range ps {
		if outs[i], err = slow.NewOutputs(); err != nil {
			t.Fatal(err)
		}
		if ps[i], err = q.TrySubmit(in, outs[i]); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- q.Close() }()
	// Cancel from the back, so each cancelled request is still in the backlog whatever
	// Close has reached meanwhile; a request that got to the device reports false.
	cancelled := map[uint64]bool{}
	for i := n - 1; i >= 0; i-- {
		ok, err := ps[i].Cancel()
		if err != nil && !errors.Is(err, nrtq.ErrClosed) {
			t.Errorf("cancelling ticket %d during Close: %v", ps[i].Ticket(), err)
		}
		cancelled[ps[i].Ticket()] = ok
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(watchdog):
		t.Fatal("Close never returned")
	}
	got := 0
	for _, p := range ps {
		c, done := p.Completion()
		switch {
		case !done:
			t.Errorf("ticket %d unresolved after Close", p.Ticket())
		case cancelled[p.Ticket()] && !errors.Is(c.Err(), nrtq.ErrCancelled):
			t.Errorf("ticket %d was cancelled but resolved as %v", p.Ticket(), c.Err())
		case !cancelled[p.Ticket()] && c.Status != nrtq.StatusOK:
			t.Errorf("ticket %d was not cancelled but resolved as %v", p.Ticket(), c.Err())
		case cancelled[p.Ticket()]:
			got++
		}
	}
	// The first request is on the device from its submit on; the last cannot have left
	// the backlog before three 200 ms requests ahead of it finished.
	if cancelled[ps[0].Ticket()] || !cancelled[ps[n-1].Ticket()] {
		t.Errorf("cancelled: %v", cancelled)
	}
	t.Logf("%d of %d requests cancelled during Close", got, n)
	for _, s := range append(outs, in) {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

// Every status the library names has a Status and a sentinel here, under the same name.
func TestStatusNamesMatchTheLibrary(t *testing.T) {
	sentinels := map[nrtq.Status]error{
		nrtq.StatusBacklogFull: nrtq.ErrBacklogFull, nrtq.StatusTimeout: nrtq.ErrTimeout,
		nrtq.StatusNull: nrtq.ErrNull, nrtq.StatusInvalid: nrtq.ErrInvalid,
		nrtq.StatusPanic: nrtq.ErrPanic, nrtq.StatusLoad: nrtq.ErrLoad,
		nrtq.StatusRuntime: nrtq.ErrRuntime, nrtq.StatusUnsupported: nrtq.ErrUnsupported,
		nrtq.StatusBusy: nrtq.ErrBusy, nrtq.StatusWouldDeadlock: nrtq.ErrWouldDeadlock,
		nrtq.StatusClosed: nrtq.ErrClosed, nrtq.StatusUnknownTicket: nrtq.ErrUnknownTicket,
		nrtq.StatusResource: nrtq.ErrResource, nrtq.StatusWrongMode: nrtq.ErrWrongMode,
		nrtq.StatusTooLate: nrtq.ErrTooLate, nrtq.StatusExec: nrtq.ErrExec,
		nrtq.StatusQueueFailed: nrtq.ErrQueueFailed, nrtq.StatusCancelled: nrtq.ErrCancelled,
		nrtq.StatusDeadline: nrtq.ErrDeadline,
	}
	if got := nrtq.StatusTooLate.String(); got != "NRTQ_ERR_TOO_LATE" {
		t.Errorf("StatusTooLate is named %q", got)
	}
	for code := nrtq.Status(1); code < 1000; code++ {
		name := code.String()
		known := strings.HasPrefix(name, "NRTQ_")
		sentinel, have := sentinels[code]
		switch {
		case known && !have:
			t.Errorf("the library names status %d %s, which has no sentinel here", code, name)
		case have && !known:
			t.Errorf("status %d has a sentinel here but the library calls it %q", code, name)
		case have && !strings.Contains(sentinel.Error(), name+":"):
			t.Errorf("the sentinel of %s reads %q", name, sentinel.Error())
		case have && !errors.Is(&nrtq.Error{Status: code}, sentinel):
			t.Errorf("an *Error with status %s does not match its sentinel", name)
		}
	}
}
