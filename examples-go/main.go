// reapdemo: a Go service shape over the nrtq Go package.
//
// Several producer goroutines each keep a few requests of their own in flight (one
// input and one output tensor set per request) and wait for each result with a select
// on its Pending's Done channel. The package's reaper resolves them; producers that meet
// a full backlog count the refusal, then let Submit wait for room. The tensor sizes come
// from the model's tensor information, so any model of the add family works. Every
// output is checked element by element; the program prints its counts and ends with a
// PASS line, or exits non-zero.
//
//	reapdemo -model nrt-emu/models/add_f32.nrtm [-producers 4] [-requests 200] [-slots 4]
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

// stallTimeout bounds every wait for the device, so a lost completion fails the run
// instead of hanging it.
const stallTimeout = 10 * time.Second

// slot is one request's tensor sets: they stay lent to nrtq until its completion.
type slot struct{ in, out *nrtq.TensorSet }

// tally is one producer's results.
type tally struct {
	submitted, received, verified, failed, wrongRequests, wrongElems, retries int
}

// inFlight is a submitted request the producer has not yet checked.
type inFlight struct {
	p    *nrtq.Pending
	s    slot
	base float32
}

// produce submits n requests, keeping up to len(slots) of them in flight, and checks each
// result in submission order: a[i] = base + i, b[i] = 2i, so out[i] must be base + 3i.
func produce(id, n, elems int, q *nrtq.Queue, slots []slot) (tally, error) {
	var t tally
	free := append([]slot(nil), slots...)
	var pending []inFlight
	a := make([]float32, elems)
	out := make([]float32, elems)
	stall := time.NewTimer(stallTimeout)
	defer stall.Stop()
	next := 0
	for next < n || len(pending) > 0 {
		for next < n && len(free) > 0 {
			s := free[len(free)-1]
			base := float32(id*n + next)
			for i := range a {
				a[i] = base + float32(i)
			}
			if err := nrtq.WriteValues(s.in, "a", a); err != nil {
				return t, err
			}
			p, err := q.TrySubmit(s.in, s.out)
			if errors.Is(err, nrtq.ErrBacklogFull) {
				// Not a failure: count it, then let Submit wait for room.
				t.retries++
				ctx, cancel := context.WithTimeout(context.Background(), stallTimeout)
				p, err = q.Submit(ctx, s.in, s.out)
				cancel()
			}
			if err != nil {
				return t, fmt.Errorf("producer %d: %w", id, err)
			}
			free = free[:len(free)-1]
			pending = append(pending, inFlight{p: p, s: s, base: base})
			t.submitted++
			next++
		}
		head := pending[0]
		pending = pending[1:]
		if !stall.Stop() {
			select {
			case <-stall.C:
			default:
			}
		}
		stall.Reset(stallTimeout)
		select {
		case <-head.p.Done():
		case <-stall.C:
			return t, fmt.Errorf("producer %d: ticket %d not completed within %v", id, head.p.Ticket(), stallTimeout)
		}
		t.received++
		free = append(free, head.s)
		c, _ := head.p.Completion()
		if c.Ticket != head.p.Ticket() {
			return t, fmt.Errorf("producer %d: completion for ticket %d carried ticket %d", id, head.p.Ticket(), c.Ticket)
		}
		if err := c.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "producer %d: %v\n", id, err)
			t.failed++
			continue
		}
		if err := nrtq.ReadValues(head.s.out, "out", out); err != nil {
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

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reapdemo:", err)
		fmt.Println("FAIL: nrtq_go")
		os.Exit(1)
	}
}

// addElems checks that m has inputs a, b and output out, all f32 of one size, and
// returns their element count.
func addElems(m *nrtq.Model) (int, error) {
	in, out := m.Inputs(), m.Outputs()
	if len(in) != 2 || in[0].Name != "a" || in[1].Name != "b" || len(out) != 1 || out[0].Name != "out" {
		return 0, fmt.Errorf("not an add model: inputs %v, outputs %v", in, out)
	}
	for _, ti := range append(in, out...) {
		if ti.DType != nrtq.DTypeFloat32 || ti.Size != out[0].Size {
			return 0, fmt.Errorf("not an f32 add model of one size: %v", ti)
		}
	}
	return out[0].Size / 4, nil
}

func run() error {
	model := flag.String("model", "", "an add-family model file (inputs a, b; output out = a + b; f32)")
	producers := flag.Int("producers", 4, "producer goroutines")
	perProducer := flag.Int("requests", 200, "requests per producer")
	slots := flag.Int("slots", 4, "requests each producer keeps in flight (one pair of tensor sets each)")
	depth := flag.Uint("depth", 3, "requests nrtq keeps on the device")
	backlog := flag.Uint("backlog", 4, "nrtq's software backlog (small, so producers meet a full backlog)")
	flag.Parse()
	if *model == "" || *producers < 1 || *perProducer < 1 || *slots < 1 {
		flag.Usage()
		return errors.New("need -model and positive -producers, -requests, -slots")
	}

	rt, err := nrtq.Open()
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
	m, err := rt.LoadModel(*model)
	if err != nil {
		return err
	}
	elems, err := addElems(m)
	if err != nil {
		return err
	}
	// Inputs stay exact in f32 (a + b < 2^24) so outputs compare with ==.
	if (*producers)*(*perProducer)+3*elems >= 1<<24 {
		return errors.New("too many requests for exact f32 checks")
	}

	// The per-thread message of a failing call reaches Go with its error.
	if _, err := rt.NewQueue(m, nrtq.WithDepth(0)); !errors.Is(err, nrtq.ErrInvalid) {
		return fmt.Errorf("probe: a depth of 0 gave %v, want ErrInvalid", err)
	} else {
		fmt.Println("last-error probe:", err)
	}

	q, err := rt.NewQueue(m, nrtq.WithDepth(uint32(*depth)), nrtq.WithBacklog(uint32(*backlog)))
	if err != nil {
		return err
	}

	// Tensor sets for every slot, b filled once (it never changes).
	b := make([]float32, elems)
	for i := range b {
		b[i] = 2 * float32(i)
	}
	all := make([][]slot, *producers)
	for p := range all {
		for s := 0; s < *slots; s++ {
			in, err := m.NewInputs()
			if err != nil {
				return err
			}
			out, err := m.NewOutputs()
			if err != nil {
				return err
			}
			if err := nrtq.WriteValues(in, "b", b); err != nil {
				return err
			}
			all[p] = append(all[p], slot{in, out})
		}
	}

	start := time.Now()
	tallies := make([]tally, *producers)
	errs := make([]error, *producers)
	var wg sync.WaitGroup
	for p := 0; p < *producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			tallies[p], errs[p] = produce(p, *perProducer, elems, q, all[p])
		}(p)
	}
	wg.Wait()
	elapsed := time.Since(start)

	stats, statsErr := q.Stats()
	// Close reaps every completion before it destroys the queue.
	closeQueueErr := q.Close()
	var closeErrs []error
	for _, ps := range all {
		for _, s := range ps {
			closeErrs = append(closeErrs, s.in.Close(), s.out.Close())
		}
	}
	closeErrs = append(closeErrs, m.Close(), rt.Close())
	for _, e := range append(append(errs, statsErr, closeQueueErr), closeErrs...) {
		if e != nil {
			return e
		}
	}

	var sum tally
	for _, t := range tallies {
		sum.submitted += t.submitted
		sum.received += t.received
		sum.verified += t.verified
		sum.failed += t.failed
		sum.wrongRequests += t.wrongRequests
		sum.wrongElems += t.wrongElems
		sum.retries += t.retries
	}
	total := (*producers) * (*perProducer)
	fmt.Printf("libnrt %s, async generation %d\n", ver, gen)
	fmt.Printf("model %s: f32[%d] + f32[%d]\n", *model, elems, elems)
	fmt.Printf("producers %d x %d requests, %d in flight each; depth %d, backlog %d\n",
		*producers, *perProducer, *slots, *depth, *backlog)
	fmt.Printf("submitted %d, received %d, verified %d, wrong requests %d, wrong elements %d, failed %d\n",
		sum.submitted, sum.received, sum.verified, sum.wrongRequests, sum.wrongElems, sum.failed)
	fmt.Printf("backlog-full retries %d\n", sum.retries)
	fmt.Printf("nrtq stats: submitted %d, completed %d, failed %d, resolved %d; completion->reap p50 %.1f us, p99 %.1f us\n",
		stats.Submitted, stats.Completed, stats.Failed, stats.Resolved,
		float64(stats.CompleteToNotifyP50)/1e3, float64(stats.CompleteToNotifyP99)/1e3)
	fmt.Printf("%d requests in %v (%.0f per second)\n", total, elapsed.Round(time.Millisecond),
		float64(total)/elapsed.Seconds())

	ok := sum.submitted == total && sum.received == total && sum.verified == total &&
		sum.wrongElems == 0 && sum.failed == 0 &&
		stats.Submitted == uint64(total) && stats.Completed == uint64(total) && stats.Resolved == uint64(total)
	if !ok {
		return errors.New("counts do not add up")
	}
	fmt.Printf("PASS: nrtq_go %d of %d requests verified, 0 wrong elements, 0 failed\n", sum.verified, total)
	return nil
}
