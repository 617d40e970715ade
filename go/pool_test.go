package nrtq_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"nrtq.dev/go/nrtq"
)

// childEnv names the test a child process of this test binary runs.
const childEnv = "NRTQ_GO_CHILD_TEST"

// inChild runs the calling test again in a child process of this test binary with env
// added, and reports whether this process is that child (then the caller runs the test's
// body). libnrt reads the emulator's settings (NRT_EMU_TOTAL_CORES, NRT_EMU_FAULTS) once,
// at nrt_init, and one process has one runtime: a test needing other settings needs its
// own process. The child's failure, race report or missing PASS line fails the parent.
func inChild(t *testing.T, env ...string) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child process (%s) failed: %v\n%s", strings.Join(env, " "), err, out)
	}
	return false
}

func newPool(t *testing.T, cfg nrtq.PoolConfig) *nrtq.Pool {
	t.Helper()
	pool, err := rt.NewPool(filepath.Join(modelsDir, "add_f32.nrtm"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A test that stopped early still closes its pool, so the runtime can close.
	t.Cleanup(func() {
		if err := pool.Close(); err != nil && !errors.Is(err, nrtq.ErrClosed) {
			t.Errorf("Pool.Close: %v", err)
		}
	})
	return pool
}

// submitAll submits n add requests from several goroutines, returning each request's
// buffers and Pending (index k holds request k).
func submitAll(t *testing.T, pool *nrtq.Pool, n, goroutines int) ([]*addBuffers, []*nrtq.Pending) {
	bufs := make([]*addBuffers, n)
	ps := make([]*nrtq.Pending, n)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := g; k < n; k += goroutines {
				bufs[k] = newAddBuffers(float32(k))
				in, out := bufs[k].byName()
				if k%3 == 0 {
					in, out = bufs[k].byIndex()
				}
				p, err := pool.SubmitHost(watchdogCtx(t), in, out)
				if err != nil {
					errs <- fmt.Errorf("request %d: %w", k, err)
					return
				}
				bufs[k].scribble()
				ps[k] = p
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := pool.Drain(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	return bufs, ps
}

// A pool of pipelines over four emulated cores: every request's output is right,
// element by element, every core served, and the counters add up.
func TestPoolOfPipelinesServesOnEveryCore(t *testing.T) {
	if !inChild(t, "NRT_EMU_TOTAL_CORES=4") {
		return
	}
	const n = 2000
	pool := newPool(t, nrtq.PoolConfig{
		Pipeline:          &nrtq.PipelineConfig{},
		CompletionThreads: 2,
		Queue:             []nrtq.QueueOption{nrtq.WithDepth(2)},
	})
	bufs, ps := submitAll(t, pool, n, 4)
	for k, p := range ps {
		if err := p.Err(); err != nil {
			t.Errorf("request %d: %v", k, err)
		} else if w := bufs[k].wrong(); w > 0 {
			t.Errorf("request %d: %d of 1024 outputs are not a + b", k, w)
		}
	}
	cores, err := pool.Cores()
	if err != nil {
		t.Fatal(err)
	}
	if len(cores) != 4 {
		t.Fatalf("cores %+v: want 4", cores)
	}
	for i, c := range cores {
		if c.Index != i || !c.Healthy || c.Status != nrtq.StatusOK || c.Routed == 0 {
			t.Errorf("core %d: %+v: want healthy, with requests routed to it", i, c)
		}
	}
	st, err := pool.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submitted != n || st.Completed != n || st.Resolved != n || st.Failed != 0 || st.Cores != 4 || st.CoresAlive != 4 {
		t.Errorf("stats %+v: want %d submitted, completed and resolved on 4 live cores", st, n)
	}
	if state, failure, err := pool.State(); err != nil || state != nrtq.PoolServing || failure != nil {
		t.Errorf("State: %v, %v, %v: want serving", state, failure, err)
	}
	if err := rt.Close(); !errors.Is(err, nrtq.ErrBusy) {
		t.Errorf("Runtime.Close with a pool open: %v, want ErrBusy", err)
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pool.Close(); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := pool.TrySubmitHost(newAddBuffers(0).byName()); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("submit to a closed pool: %v, want ErrClosed", err)
	}
}

// deathEnv: four cores, core 2's compute unit dies after 100 requests.
var deathEnv = []string{"NRT_EMU_TOTAL_CORES=4", "NRT_EMU_FAULTS=unrecoverable after=100 lnc=2"}

// checkCoreDeath checks a pool after core 2 died under it: the core-left event came
// once, through both the callback and the channel, after Close; core 2 is reported
// unhealthy with the dead unit's status, the others healthy.
func checkCoreLeft(t *testing.T, fnEvents []nrtq.CoreLeft, chEvents chan nrtq.CoreLeft) {
	t.Helper()
	close(chEvents)
	var got []nrtq.CoreLeft
	for e := range chEvents {
		got = append(got, e)
	}
	for what, events := range map[string][]nrtq.CoreLeft{"OnCoreLeft": fnEvents, "CoreLeft channel": got} {
		if len(events) != 1 {
			t.Errorf("%s: %+v: want one event, core 2", what, events)
			continue
		}
		e := events[0]
		if e.Core != 2 || !errors.Is(e.Err(), nrtq.ErrQueueFailed) || e.NRTStatus != 101 {
			t.Errorf("%s: %+v: want core 2, ErrQueueFailed, NRT_EXEC_UNIT_UNRECOVERABLE", what, e)
		}
	}
}

func checkCores(t *testing.T, pool *nrtq.Pool) {
	t.Helper()
	cores, err := pool.Cores()
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cores {
		if dead := i == 2; c.Healthy == dead ||
			(dead && (c.Status != nrtq.StatusQueueFailed || c.NRTStatus != 101)) {
			t.Errorf("core %d: %+v: want only core 2 unhealthy, with the dead unit's status", i, c)
		}
	}
	if len(cores) != 4 {
		t.Errorf("cores %+v: want 4", cores)
	}
	if state, _, err := pool.State(); err != nil || state != nrtq.PoolServing {
		t.Errorf("State: %v, %v: want serving on the three cores left", state, err)
	}
}

// Core 2 dies mid-stream under a pool of pipelines: the core-left callback and channel
// each say so once; every Pending resolves exactly once (the reaper's handle check
// panics on a second delivery, and the counts must match); what was on core 2's device
// fails with ErrQueueFailed and its output untouched, everything else is right.
func TestPoolCoreDeathFiresCoreLeftAndResolvesEveryPendingOnce(t *testing.T) {
	if !inChild(t, deathEnv...) {
		return
	}
	const n = 2000
	var mu sync.Mutex
	var fnEvents []nrtq.CoreLeft
	chEvents := make(chan nrtq.CoreLeft, 4)
	pool := newPool(t, nrtq.PoolConfig{
		Pipeline: &nrtq.PipelineConfig{},
		OnCoreLeft: func(e nrtq.CoreLeft) {
			mu.Lock()
			fnEvents = append(fnEvents, e)
			mu.Unlock()
		},
		CoreLeft: chEvents,
	})
	bufs, ps := submitAll(t, pool, n, 4)
	ok, failed := 0, 0
	for k, p := range ps {
		select {
		case <-p.Done():
		default:
			t.Fatalf("request %d not resolved after Drain", k)
		}
		err := p.Err()
		var e *nrtq.Error
		switch {
		case err == nil:
			ok++
			if w := bufs[k].wrong(); w > 0 {
				t.Errorf("request %d: %d of 1024 outputs are not a + b", k, w)
			}
		case errors.Is(err, nrtq.ErrQueueFailed) && errors.As(err, &e) && (e.NRTStatus == 101 || e.NRTStatus == 0):
			failed++
			if !bufs[k].untouched() {
				t.Errorf("request %d failed on the dead core but its output was written", k)
			}
		default:
			t.Errorf("request %d: %v", k, err)
		}
	}
	t.Logf("%d ok, %d failed with core 2", ok, failed)
	if ok+failed != n || failed == 0 || failed > 64 {
		t.Errorf("%d ok, %d failed of %d: want every request resolved, the few on core 2's device failed", ok, failed, n)
	}
	checkCores(t, pool)
	st, err := pool.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submitted != n || st.Completed != n || st.Resolved != n || st.Failed != uint64(failed) || st.CoresAlive != 3 {
		t.Errorf("stats %+v: want %d submitted, completed and resolved, %d failed, 3 cores alive", st, n, failed)
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	checkCoreLeft(t, fnEvents, chEvents)
}

// The same death under a retry-safe pool: what core 2's device held runs again on
// another core, so every request succeeds, each resolved once.
func TestRetrySafePoolRerunsWhatADeadCoreHeld(t *testing.T) {
	if !inChild(t, deathEnv...) {
		return
	}
	const n = 2000
	var mu sync.Mutex
	var fnEvents []nrtq.CoreLeft
	chEvents := make(chan nrtq.CoreLeft, 4)
	pool := newPool(t, nrtq.PoolConfig{
		Pipeline:  &nrtq.PipelineConfig{},
		RetrySafe: true,
		OnCoreLeft: func(e nrtq.CoreLeft) {
			mu.Lock()
			fnEvents = append(fnEvents, e)
			mu.Unlock()
		},
		CoreLeft: chEvents,
	})
	bufs, ps := submitAll(t, pool, n, 4)
	for k, p := range ps {
		if err := p.Err(); err != nil {
			t.Errorf("request %d: %v", k, err)
		} else if w := bufs[k].wrong(); w > 0 {
			t.Errorf("request %d: %d of 1024 outputs are not a + b", k, w)
		}
	}
	checkCores(t, pool)
	st, err := pool.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Completed != n || st.Resolved != n || st.Failed != 0 || st.Retried == 0 {
		t.Errorf("stats %+v: want %d completed and resolved, none failed, some retried", st, n)
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	checkCoreLeft(t, fnEvents, chEvents)
}

// Wrong requests to pools are refused with ErrInvalid and a message that says what is
// wrong: a buffer of the wrong size (naming the tensor and both sizes), host buffers to
// a pool of tensor sets, tensor sets to a pool of pipelines. A pool of tensor sets runs
// sets made from a Model of the same file. (Two cores: the emulator's default.)
func TestPoolRefusesWrongRequests(t *testing.T) {
	pipes := newPool(t, nrtq.PoolConfig{Pipeline: &nrtq.PipelineConfig{}, Backlog: 16})
	ab := newAddBuffers(0)
	_, err := pipes.TrySubmitHost([]nrtq.HostBuffer{nrtq.Values("a", ab.a), nrtq.Values("b", ab.b[:1000])},
		[]nrtq.HostBuffer{nrtq.Values("out", ab.o)})
	if !errors.Is(err, nrtq.ErrInvalid) || !strings.Contains(err.Error(), `input "b"`) ||
		!strings.Contains(err.Error(), "4000") || !strings.Contains(err.Error(), "4096") {
		t.Errorf("a short buffer: %v, want ErrInvalid naming input \"b\" with 4000 and 4096 bytes", err)
	}
	in, out := sets(t, addModel)
	if _, err := pipes.TrySubmit(in, out); !errors.Is(err, nrtq.ErrInvalid) || !strings.Contains(err.Error(), "SubmitHost") {
		t.Errorf("tensor sets to a pool of pipelines: %v, want ErrInvalid pointing to SubmitHost", err)
	}
	if st, err := pipes.Stats(); err != nil || st.Submitted != 0 {
		t.Errorf("stats %+v, %v: want nothing accepted", st, err)
	}
	if !ab.untouched() {
		t.Error("a refused request's output was written")
	}
	if err := pipes.Close(); err != nil {
		t.Fatal(err)
	}

	plain := newPool(t, nrtq.PoolConfig{Cores: []int{0, 1}, Backlog: -1})
	if _, err := plain.TrySubmitHost(ab.byName()); !errors.Is(err, nrtq.ErrInvalid) || !strings.Contains(err.Error(), "PoolConfig.Pipeline") {
		t.Errorf("host buffers to a pool of tensor sets: %v, want ErrInvalid pointing to PoolConfig.Pipeline", err)
	}
	fillAdd(t, in, 7)
	p, err := plain.Submit(watchdogCtx(t), in, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	if wrong, err := checkAdd(out, 7); err != nil || wrong != 0 {
		t.Errorf("a pool request on tensor sets: %d wrong, %v", wrong, err)
	}
	if ok, err := p.Cancel(); ok || !errors.Is(err, nrtq.ErrUnsupported) {
		t.Errorf("Cancel of a pool request: %v, %v, want ErrUnsupported", ok, err)
	}
	if err := plain.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.NewPool(filepath.Join(modelsDir, "no_such.nrtm"), nrtq.PoolConfig{}); !errors.Is(err, nrtq.ErrInvalid) ||
		!strings.Contains(err.Error(), "no_such.nrtm") {
		t.Errorf("a missing model file: %v, want ErrInvalid naming it", err)
	}
	if _, err := rt.NewPool(filepath.Join(modelsDir, "add_f32.nrtm"), nrtq.PoolConfig{Cores: []int{1, 1}}); !errors.Is(err, nrtq.ErrInvalid) {
		t.Errorf("a core listed twice: %v, want ErrInvalid", err)
	}
}

// Every core dies (two cores, each unit dead after 20 requests): both core-left events
// come, the pool fails terminally, every accepted request still resolves once, and
// later submits are refused with ErrQueueFailed and the dead unit's raw status.
func TestPoolWhoseLastCoreDiesFailsTerminally(t *testing.T) {
	if !inChild(t, "NRT_EMU_TOTAL_CORES=2", "NRT_EMU_FAULTS=unrecoverable after=20") {
		return
	}
	left := make(chan nrtq.CoreLeft, 2)
	pool := newPool(t, nrtq.PoolConfig{Pipeline: &nrtq.PipelineConfig{}, CoreLeft: left})
	var ps []*nrtq.Pending
	var refusal error
	for k := 0; k < 1000 && refusal == nil; k++ {
		in, out := newAddBuffers(float32(k)).byName()
		p, err := pool.SubmitHost(watchdogCtx(t), in, out)
		if err != nil {
			refusal = err
			break
		}
		ps = append(ps, p)
		if k%8 == 7 {
			// Let the cores reach their faults before the whole batch is accepted.
			if err := p.Wait(watchdogCtx(t)); err != nil && !errors.Is(err, nrtq.ErrQueueFailed) {
				t.Fatalf("request %d: %v", k, err)
			}
		}
	}
	var e *nrtq.Error
	if !errors.Is(refusal, nrtq.ErrQueueFailed) || !errors.As(refusal, &e) || e.NRTStatus != 101 {
		t.Fatalf("submits after every core died: %v, want ErrQueueFailed with NRT_EXEC_UNIT_UNRECOVERABLE", refusal)
	}
	if err := pool.Drain(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	ok := 0
	for k, p := range ps {
		switch err := p.Err(); {
		case err == nil:
			ok++
		case !errors.Is(err, nrtq.ErrQueueFailed):
			t.Errorf("request %d: %v", k, err)
		}
	}
	if ok == 0 || ok > 40 {
		t.Errorf("%d of %d requests succeeded: want some, at most the 40 the two units ran", ok, len(ps))
	}
	state, failure, err := pool.State()
	if err != nil || state != nrtq.PoolFailed || !errors.Is(failure, nrtq.ErrQueueFailed) {
		t.Errorf("State: %v, %v, %v: want failed with ErrQueueFailed", state, failure, err)
	}
	st, err := pool.Stats()
	if err != nil || st.CoresAlive != 0 || st.Completed != uint64(len(ps)) || st.Resolved != uint64(len(ps)) {
		t.Errorf("stats %+v, %v: want no core alive, all %d accepted completed and resolved", st, err, len(ps))
	}
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	close(left)
	cores := map[int]bool{}
	events := 0
	for ev := range left {
		cores[ev.Core] = true
		events++
		if !errors.Is(ev.Err(), nrtq.ErrQueueFailed) {
			t.Errorf("core-left event %+v: want ErrQueueFailed", ev)
		}
	}
	if len(cores) != 2 || events != 2 {
		t.Errorf("core-left events for cores %v: want 0 and 1, once each", cores)
	}
}
