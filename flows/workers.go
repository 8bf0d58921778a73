package flows

import (
	"slices"
	"sync"
	"time"
)

// Workers runs functions on goroutines that it keeps between them. Work
// started once per chat, per update or per call would otherwise start a
// goroutine each time whose stack grows again from its first few
// kilobytes (runtime.newstack and copystack were a tenth of the bot's
// CPU); a kept goroutine keeps the stack it grew, until the garbage
// collector shrinks an idle one.
//
// Workers bounds nothing: Go always runs f at once, on a new goroutine if
// none is idle, so callers bound how much runs at once as they would with
// go statements. A panic in f takes the program down, as it would in a
// goroutine of its own. The zero value is not usable; call NewWorkers.
type Workers struct {
	// idleFor is how long a goroutine waits for more work before it
	// exits, so that a burst's goroutines do not stay forever.
	idleFor time.Duration
	// maxIdle bounds the goroutines waiting, each with its grown stack:
	// a burst of a thousand chats must not leave a thousand stacks
	// behind for idleFor.
	maxIdle int

	mu sync.Mutex
	// idle are the goroutines waiting for work, the one that waited
	// least last: it is reused first, so that when less work comes the
	// surplus at the bottom waits out idleFor and exits.
	idle []*worker
	// closed is set by Close: from then on no goroutine is kept.
	closed bool
	// started counts the goroutines ever started, for the tests.
	started int

	// running counts the goroutines alive, for Close to wait for.
	running sync.WaitGroup
}

// worker is one kept goroutine, as the idle list holds it.
type worker struct {
	// work hands the goroutine its next function; nil tells it to exit.
	// It holds one so that Go never waits for the goroutine to be
	// scheduled.
	work chan func()
}

// NewWorkers returns Workers whose goroutines exit once they have waited
// idleFor without work, and at once when maxIdle others wait already. Ten
// seconds keeps goroutines across the gaps between a busy bot's batches
// and calls; zero or less of either keeps none (every function gets a
// goroutine of its own, as with a go statement).
func NewWorkers(idleFor time.Duration, maxIdle int) *Workers {
	return &Workers{idleFor: idleFor, maxIdle: maxIdle}
}

// Go runs f on an idle kept goroutine, or on a new one if none waits. It
// never waits for other work to finish. After Close, f still runs, on a
// goroutine of its own that Close does not wait for. f must not be nil:
// a kept goroutine handed nil takes it for Close's signal and exits.
func (w *Workers) Go(f func()) {
	w.mu.Lock()
	if n := len(w.idle); n > 0 {
		k := w.idle[n-1]
		w.idle[n-1] = nil // the list must not keep an exited goroutine's channel
		w.idle = w.idle[:n-1]
		w.mu.Unlock()
		k.work <- f
		return
	}
	if w.closed {
		w.mu.Unlock()
		go f()
		return
	}
	w.started++
	// Under mu, before closed is set: every Add comes before Close's Wait.
	w.running.Add(1)
	w.mu.Unlock()
	go w.run(&worker{work: make(chan func(), 1)}, f)
}

// run is a kept goroutine: it runs f, then whatever Go hands it, until it
// waits idleFor in vain or Close tells it to exit.
func (w *Workers) run(k *worker, f func()) {
	defer w.running.Done()
	var timer *time.Timer // made on the first wait, reused for the later ones
	for f != nil {
		f()
		f = nil // what f holds is garbage while the goroutine waits
		if !w.park(k) {
			return
		}
		if timer == nil {
			timer = time.NewTimer(w.idleFor)
			defer timer.Stop()
		} else {
			timer.Reset(w.idleFor) // since Go 1.23 no stale tick can be read after Reset
		}
		select {
		case f = <-k.work:
		case <-timer.C:
			if w.unpark(k) {
				return
			}
			// Go took k off the list before it could leave: the
			// function is on its way.
			f = <-k.work
		}
	}
}

// park puts k on the idle list, unless no goroutine is to be kept, or
// no more.
func (w *Workers) park(k *worker) bool {
	if w.idleFor <= 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(w.idle) >= w.maxIdle {
		return false
	}
	w.idle = append(w.idle, k)
	return true
}

// unpark takes k off the idle list after its wait ran out, and reports
// false if Go or Close took it off first, since then a function (or the
// nil that means exit) is coming on k.work.
func (w *Workers) unpark(k *worker) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	// The oldest wait runs out first, and it is at the bottom: the search
	// ends at once.
	i := slices.Index(w.idle, k)
	if i < 0 {
		return false
	}
	w.idle = slices.Delete(w.idle, i, i+1) // zeroes the freed end, which would keep k
	return true
}

// Close makes the idle goroutines exit and waits until every goroutine
// Go started before it has exited: those running a function exit when it
// returns, so Close waits for the functions in flight. Go still works
// after Close, keeping no goroutine. Close may be called more than once.
func (w *Workers) Close() {
	w.mu.Lock()
	w.closed = true
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, k := range idle {
		k.work <- nil
	}
	w.running.Wait()
}
