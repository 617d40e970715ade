package nrtq_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nrtq.dev/go/nrtq"
)

// addBuffers are one add_f32 request's host buffers: a[i] = base + i, b[i] = 2i, and an
// output pre-filled with -1 so an output never written is told from a wrong one.
type addBuffers struct {
	base    float32
	a, b, o []float32
}

func newAddBuffers(base float32) *addBuffers {
	ab := &addBuffers{base: base, a: make([]float32, 1024), b: make([]float32, 1024), o: make([]float32, 1024)}
	for i := range ab.a {
		ab.a[i] = base + float32(i)
		ab.b[i] = 2 * float32(i)
		ab.o[i] = -1
	}
	return ab
}

// byName names every tensor; byIndex gives positions (a, b; out).
func (ab *addBuffers) byName() (in, out []nrtq.HostBuffer) {
	return []nrtq.HostBuffer{nrtq.Values("a", ab.a), nrtq.Values("b", ab.b)},
		[]nrtq.HostBuffer{nrtq.Values("out", ab.o)}
}

func (ab *addBuffers) byIndex() (in, out []nrtq.HostBuffer) {
	return []nrtq.HostBuffer{nrtq.ValuesAt(1, ab.b), nrtq.ValuesAt(0, ab.a)},
		[]nrtq.HostBuffer{nrtq.ValuesAt(0, ab.o)}
}

// scribble overwrites the inputs after submit: the request must not see it.
func (ab *addBuffers) scribble() {
	for i := range ab.a {
		ab.a[i], ab.b[i] = 1e9, 1e9
	}
}

// wrong counts the output elements that are not base + 3i.
func (ab *addBuffers) wrong() int {
	n := 0
	for i, v := range ab.o {
		if v != ab.base+3*float32(i) {
			n++
		}
	}
	return n
}

// untouched says whether the output still holds its -1 fill.
func (ab *addBuffers) untouched() bool {
	for _, v := range ab.o {
		if v != -1 {
			return false
		}
	}
	return true
}

func newPipeline(t *testing.T, chain []*nrtq.Model, cfg *nrtq.PipelineConfig, opts ...nrtq.QueueOption) *nrtq.Pipeline {
	t.Helper()
	pl, err := rt.NewPipeline(chain, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// Requests from several goroutines, half naming their tensors and half giving positions,
// each with inputs scribbled over as soon as SubmitHost returns (they were copied to C
// memory) and outputs checked element by element once Done closes.
func TestPipelineRunsHostBuffersByNameAndIndex(t *testing.T) {
	const goroutines, each = 4, 50
	pl := newPipeline(t, []*nrtq.Model{addModel}, nil, nrtq.WithDepth(4))
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < each; k++ {
				ab := newAddBuffers(float32(g*1000 + k))
				in, out := ab.byName()
				if k%2 == 1 {
					in, out = ab.byIndex()
				}
				p, err := pl.SubmitHost(watchdogCtx(t), in, out)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d request %d: %w", g, k, err)
					return
				}
				ab.scribble()
				if err := p.Wait(watchdogCtx(t)); err != nil {
					errs <- fmt.Errorf("goroutine %d request %d (ticket %d): %w", g, k, p.Ticket(), err)
					continue
				}
				if n := ab.wrong(); n > 0 {
					errs <- fmt.Errorf("goroutine %d request %d: %d of 1024 outputs are not a + b", g, k, n)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st, err := pl.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submitted != goroutines*each || st.Completed != goroutines*each || st.Resolved != goroutines*each {
		t.Errorf("stats %+v: want %d submitted, completed and resolved", st, goroutines*each)
	}
	stages, err := pl.StageStats()
	if err != nil {
		t.Fatal(err)
	}
	want := []nrtq.Stage{nrtq.StageWrite, nrtq.StageExecute, nrtq.StageRead}
	if len(stages) != len(want) {
		t.Fatalf("stage stats %+v: want the stages %v", stages, want)
	}
	for i, s := range stages {
		if s.Stage != want[i] || s.Retired < goroutines*each || s.InFlight != 0 || s.Waiting != 0 {
			t.Errorf("stage %d: %+v: want %v with at least %d steps retired, none in flight or waiting", i, s, want[i], goroutines*each)
		}
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.TrySubmitHost(newAddBuffers(0).byName()); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("submit to a closed pipeline: %v, want ErrClosed", err)
	}
}

// Two models chained on the device: the second model's input x is the first model's
// output out (a link), so a request gives a and b and gets (a + b) / 2.
func TestPipelineChainsModelsOnTheDevice(t *testing.T) {
	half := loadText(t, "nrt-emu-model 1\nname half\ntime_ns 10000\n"+
		"input x f32 1024\noutput y f32 1024\nop scale y x 0.5\nend\n")
	if _, err := rt.NewPipeline([]*nrtq.Model{addModel, half}, nil); !errors.Is(err, nrtq.ErrInvalid) {
		t.Errorf("a chain whose input x has no link and no output of that name: %v, want ErrInvalid", err)
	}
	pl := newPipeline(t, []*nrtq.Model{addModel, half},
		&nrtq.PipelineConfig{Slots: 4, Links: []nrtq.Link{{Model: 1, Input: "x", Output: "out"}}})
	if got := pl.Outputs(); len(got) != 1 || got[0].Name != "y" {
		t.Errorf("Outputs %v: want the last model's y", got)
	}
	var ps []*nrtq.Pending
	var bufs []*addBuffers
	for k := 0; k < 20; k++ {
		ab := newAddBuffers(float32(k))
		bufs = append(bufs, ab)
		p, err := pl.SubmitHost(watchdogCtx(t),
			[]nrtq.HostBuffer{nrtq.Values("a", ab.a), nrtq.Values("b", ab.b)},
			[]nrtq.HostBuffer{nrtq.Values("y", ab.o)})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := pl.Drain(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	for k, p := range ps {
		if err := p.Err(); err != nil {
			t.Errorf("request %d: %v", k, err)
			continue
		}
		for i, v := range bufs[k].o {
			if want := (bufs[k].base + 3*float32(i)) * 0.5; v != want {
				t.Errorf("request %d element %d: %v, want %v", k, i, v, want)
				break
			}
		}
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
}

// A buffer of the wrong size, a missing output, a tensor that does not exist and a
// slice of the wrong element type are refused at submit, with ErrInvalid and a message
// that names the tensor; nothing is accepted.
func TestPipelineRefusesWrongBuffers(t *testing.T) {
	pl := newPipeline(t, []*nrtq.Model{addModel}, nil)
	defer func() {
		if err := pl.Close(); err != nil {
			t.Error(err)
		}
	}()
	ab := newAddBuffers(0)
	cases := []struct {
		what    string
		in, out []nrtq.HostBuffer
		want    []string // in the message
	}{
		{"a short input", []nrtq.HostBuffer{nrtq.Values("a", ab.a[:1023]), nrtq.Values("b", ab.b)},
			[]nrtq.HostBuffer{nrtq.Values("out", ab.o)}, []string{`input "a"`, "4096", "4092"}},
		{"a long output by index", []nrtq.HostBuffer{nrtq.Values("a", ab.a), nrtq.Values("b", ab.b)},
			[]nrtq.HostBuffer{nrtq.BytesAt(0, make([]byte, 4100))}, []string{`output "out"`, "4096", "4100"}},
		{"no output", []nrtq.HostBuffer{nrtq.Values("a", ab.a), nrtq.Values("b", ab.b)}, nil, []string{`output "out"`, "not given"}},
		{"an unknown tensor", []nrtq.HostBuffer{nrtq.Values("a", ab.a), nrtq.Values("c", ab.b)},
			[]nrtq.HostBuffer{nrtq.Values("out", ab.o)}, []string{`"c"`}},
		{"int32 values for f32", []nrtq.HostBuffer{nrtq.Values("a", make([]int32, 1024)), nrtq.Values("b", ab.b)},
			[]nrtq.HostBuffer{nrtq.Values("out", ab.o)}, []string{`"a"`, "f32", "int32"}},
	}
	for _, c := range cases {
		_, err := pl.TrySubmitHost(c.in, c.out)
		if !errors.Is(err, nrtq.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.what, err)
			continue
		}
		t.Logf("%s: %v", c.what, err)
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: message %q does not mention %q", c.what, err, w)
			}
		}
	}
	st, err := pl.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Submitted != 0 {
		t.Errorf("%d requests accepted, want none", st.Submitted)
	}
	if !ab.untouched() {
		t.Error("a refused request's output was written")
	}
}

// A model failing every tenth execution: those requests fail with ErrExec and the
// model's status, their outputs stay untouched, and StageErrors says they failed at the
// execute stage.
func TestPipelineStageErrorsNameTheStage(t *testing.T) {
	faults, err := rt.LoadModel(filepath.Join(modelsDir, "add_f32_faults.nrtm"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := faults.Close(); err != nil {
			t.Error(err)
		}
	}()
	pl := newPipeline(t, []*nrtq.Model{faults}, nil)
	const n = 30
	var ps []*nrtq.Pending
	var bufs []*addBuffers
	for k := 0; k < n; k++ {
		ab := newAddBuffers(float32(k))
		bufs = append(bufs, ab)
		in, out := ab.byName()
		p, err := pl.SubmitHost(watchdogCtx(t), in, out)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := pl.Drain(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	failed := map[uint64]bool{}
	for k, p := range ps {
		err := p.Err()
		var e *nrtq.Error
		switch {
		case err == nil:
			if n := bufs[k].wrong(); n > 0 {
				t.Errorf("request %d: %d outputs wrong", k, n)
			}
		case errors.Is(err, nrtq.ErrExec) && errors.As(err, &e) && e.NRTStatus == 1004:
			failed[p.Ticket()] = true
			if !bufs[k].untouched() {
				t.Errorf("request %d failed but its output was written", k)
			}
		default:
			t.Errorf("request %d: %v", k, err)
		}
	}
	if len(failed) != n/10 {
		t.Errorf("%d requests failed, want %d (every tenth)", len(failed), n/10)
	}
	errs, dropped, err := pl.StageErrors(64)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != len(failed) || dropped != 0 {
		t.Errorf("stage errors %+v (dropped %d): want one per failed request", errs, dropped)
	}
	for _, e := range errs {
		if !failed[e.Ticket] || e.Stage != nrtq.StageExecute || !errors.Is(e.Err(), nrtq.ErrExec) {
			t.Errorf("stage error %+v: want a failed ticket at the execute stage", e)
		}
	}
	if again, _, _ := pl.StageErrors(64); len(again) != 0 {
		t.Errorf("stage errors returned twice: %+v", again)
	}
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
}

// A pipeline request cancelled in the backlog resolves as cancelled with its output
// untouched. Shutdown past its context with requests on the device and in the backlog:
// every Pending resolves once as ErrCancelled and no output slice is written (the
// staging memory of a request abandoned on the device is the device's until
// Runtime.Close, never the caller's slices). The pipeline holds its model open until
// then.
func TestPipelineShutdownPastItsContextLeavesOutputsAlone(t *testing.T) {
	slow := slowAdd(t, 300*time.Millisecond)
	// One slot: one request on the device units, the others in the backlog.
	pl := newPipeline(t, []*nrtq.Model{slow}, &nrtq.PipelineConfig{Slots: 1}, nrtq.WithDepth(1), nrtq.WithMaxDepth(1))
	if err := slow.Close(); !errors.Is(err, nrtq.ErrBusy) {
		t.Errorf("Model.Close under an open pipeline: %v, want ErrBusy", err)
	}
	submit3 := func() ([]*nrtq.Pending, []*addBuffers) {
		var ps []*nrtq.Pending
		var bufs []*addBuffers
		for k := 0; k < 3; k++ {
			ab := newAddBuffers(float32(k))
			in, out := ab.byName()
			p, err := pl.TrySubmitHost(in, out)
			if err != nil {
				t.Fatal(err)
			}
			ps, bufs = append(ps, p), append(bufs, ab)
		}
		return ps, bufs
	}
	// The last request is still in the backlog: Cancel takes it back, and it resolves
	// in its turn as cancelled without a raw status, its output untouched.
	ps, bufs := submit3()
	if ok, err := ps[2].Cancel(); !ok || err != nil {
		t.Fatalf("Cancel of a backlogged pipeline request: %v, %v", ok, err)
	}
	if err := pl.Drain(watchdogCtx(t)); err != nil {
		t.Fatal(err)
	}
	for k, p := range ps[:2] {
		if err := p.Err(); err != nil || bufs[k].wrong() > 0 {
			t.Errorf("request %d: %v, %d outputs wrong", k, err, bufs[k].wrong())
		}
	}
	if c, _ := ps[2].Completion(); !errors.Is(c.Err(), nrtq.ErrCancelled) || c.NRTStatus != nrtq.NRTSuccess || !bufs[2].untouched() {
		t.Errorf("the cancelled request: %+v (output untouched: %v), want ErrCancelled without a raw status", c, bufs[2].untouched())
	}

	ps, bufs = submit3()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pl.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with an ended context: %v", err)
	}
	for k, p := range ps {
		c, ok := p.Completion()
		if !ok || !errors.Is(c.Err(), nrtq.ErrCancelled) {
			t.Errorf("request %d after an abandoning Shutdown: %+v (done %v)", k, c, ok)
		}
		if !bufs[k].untouched() {
			t.Errorf("request %d: its output slice was written", k)
		}
	}
	if err := pl.Close(); !errors.Is(err, nrtq.ErrClosed) {
		t.Errorf("Close after Shutdown: %v, want ErrClosed", err)
	}
}
