// poolpipes: a pool of pipelines over every core, with Go slices in and out.
//
// Producer goroutines submit add requests (a[i] = base + i, b[i] = 2i) as host buffers
// to one pool whose cores are pipelines; the pool spreads them over the cores. A core
// whose execution unit dies leaves the pool: the program prints a "core N left" line
// from the pool's CoreLeft channel and serves on with the others. Every request must
// resolve exactly once; every successful output is checked element by element
// (out[i] == base + 3i), and a failed one must be a dead core's ErrQueueFailed. The run
// ends with a PASS line with its counts, or exits non-zero.
//
//	poolpipes -model nrt-emu/models/add_f32.nrtm [-producers 4] [-requests 500]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"nrtq.dev/go/nrtq"
)

// stallTimeout bounds every wait, so a lost completion fails the run instead of hanging.
const stallTimeout = 10 * time.Second

type tally struct{ ok, failed, wrong int }

// produce submits n requests and checks each once it resolves.
func produce(id, n, elems int, pool *nrtq.Pool) (tally, error) {
	type request struct {
		p       *nrtq.Pending
		base    float32
		a, b, o []float32
	}
	var t tally
	reqs := make([]request, 0, n)
	ctx, cancel := context.WithTimeout(context.Background(), stallTimeout)
	defer cancel()
	for k := 0; k < n; k++ {
		r := request{base: float32(id*n + k), a: make([]float32, elems), b: make([]float32, elems), o: make([]float32, elems)}
		for i := range r.a {
			r.a[i], r.b[i] = r.base+float32(i), 2*float32(i)
		}
		p, err := pool.SubmitHost(ctx,
			[]nrtq.HostBuffer{nrtq.Values("a", r.a), nrtq.Values("b", r.b)},
			[]nrtq.HostBuffer{nrtq.Values("out", r.o)})
		if err != nil {
			return t, fmt.Errorf("producer %d request %d: %w", id, k, err)
		}
		r.p = p
		reqs = append(reqs, r)
	}
	for _, r := range reqs {
		if err := r.p.Wait(ctx); err != nil {
			if errors.Is(err, nrtq.ErrQueueFailed) {
				t.failed++ // it was on a core's device when the core died
				continue
			}
			return t, fmt.Errorf("producer %d ticket %d: %w", id, r.p.Ticket(), err)
		}
		t.ok++
		for i, v := range r.o {
			if v != r.base+3*float32(i) {
				t.wrong++
				break
			}
		}
	}
	return t, nil
}

func run() error {
	model := flag.String("model", "", "an add model file (inputs a, b; output out; f32)")
	producers := flag.Int("producers", 4, "producer goroutines")
	requests := flag.Int("requests", 500, "requests per producer")
	retrySafe := flag.Bool("retry-safe", false, "re-run what a dead core held on another core")
	flag.Parse()
	if *model == "" {
		return errors.New("-model is required")
	}
	rt, err := nrtq.Open()
	if err != nil {
		return err
	}
	defer rt.Close()
	// The tensor size comes from the model itself, through a model loaded once to read it.
	m, err := rt.LoadModel(*model)
	if err != nil {
		return err
	}
	elems := m.Outputs()[0].Size / 4
	if err := m.Close(); err != nil {
		return err
	}

	left := make(chan nrtq.CoreLeft, 256) // room for every core: Close waits for delivery
	pool, err := rt.NewPool(*model, nrtq.PoolConfig{
		Pipeline:  &nrtq.PipelineConfig{},
		RetrySafe: *retrySafe,
		CoreLeft:  left,
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	tallies := make([]tally, *producers)
	errs := make([]error, *producers)
	for id := 0; id < *producers; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			tallies[id], errs[id] = produce(id, *requests, elems, pool)
		}(id)
	}
	wg.Wait()
	cores, err := pool.Cores()
	if err != nil {
		return err
	}
	st, err := pool.Stats()
	if err != nil {
		return err
	}
	if err := pool.Close(); err != nil {
		return err
	}
	close(left)
	for e := range left {
		fmt.Printf("core %d left: %v\n", e.Core, e.Err())
	}
	for _, c := range cores {
		fmt.Printf("core %d: healthy %v, routed %d\n", c.Index, c.Healthy, c.Routed)
	}
	var total tally
	for id, t := range tallies {
		if errs[id] != nil {
			return errs[id]
		}
		total.ok += t.ok
		total.failed += t.failed
		total.wrong += t.wrong
	}
	n := *producers * *requests
	fmt.Printf("requests %d ok %d failed %d wrong %d resolved %d\n", n, total.ok, total.failed, total.wrong, st.Resolved)
	if total.wrong > 0 || total.ok+total.failed != n || st.Resolved != uint64(n) || st.Completed != uint64(n) {
		return fmt.Errorf("counts do not add up: %+v, stats %+v", total, st)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Println("FAIL: nrtq_go_pool:", err)
		os.Exit(1)
	}
	fmt.Println("PASS: nrtq_go_pool")
}
