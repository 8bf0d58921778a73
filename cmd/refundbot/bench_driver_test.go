package main

// The simulated buyers of the benchmarks: each chat sends its next step once
// the reply to its last one arrived, and the latency of every update is
// recorded.

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// benchDriver plays the buyers: each chat sends its next step once the
// reply to the last one arrived, and the latency of every update is
// recorded.
type benchDriver struct {
	fake  *telegramfake.Server
	chats int
	steps []string
	// want is what each step's reply contains; nil checks nothing.
	want []string
	done chan int // chats whose reply arrived

	mu       sync.Mutex
	step     []int
	sentAt   []time.Time
	inflight []bool
	lat      []time.Duration
	extra    int // replies nobody was waiting for
	wrong    string
	rr       int // where sendIdle looks next
}

func newBenchDriver(fake *telegramfake.Server, chats int, steps, want []string) *benchDriver {
	d := &benchDriver{fake: fake, chats: chats, steps: steps, want: want, done: make(chan int, chats+1),
		step: make([]int, chats), sentAt: make([]time.Time, chats), inflight: make([]bool, chats)}
	fake.Subscribe(d.replied)
	return d
}

func (d *benchDriver) replied(m telegramfake.SentMessage) {
	i := int(m.ChatID - benchChatBase)
	if i < 0 || i >= d.chats || m.Edits > 0 || m.Deleted {
		return
	}
	d.mu.Lock()
	if !d.inflight[i] {
		d.extra++
		d.mu.Unlock()
		return
	}
	if d.want != nil && d.wrong == "" {
		if want := d.want[(d.step[i]-1)%len(d.want)]; !strings.Contains(m.Text, want) {
			d.wrong = fmt.Sprintf("chat %d: reply %q, want one containing %q", m.ChatID, m.Text, want)
		}
	}
	d.inflight[i] = false
	d.lat = append(d.lat, m.At.Sub(d.sentAt[i]))
	d.mu.Unlock()
	d.done <- i
}

// send queues chat i's next step.
func (d *benchDriver) send(i int) {
	id := int64(benchChatBase + i)
	d.mu.Lock()
	text := d.steps[d.step[i]%len(d.steps)]
	d.step[i]++
	d.inflight[i] = true
	d.sentAt[i] = time.Now()
	d.mu.Unlock()
	d.fake.SendText(telegramfake.Chat{ID: id, Type: "private"},
		telegramfake.User{ID: id, FirstName: "Buyer", LanguageCode: "zh-hans"}, text)
}

// wait returns the next chat whose reply arrived.
func (d *benchDriver) wait(b *testing.B) int {
	select {
	case i := <-d.done:
		return i
	case <-time.After(waitFor):
		b.Fatalf("no reply for %s", waitFor)
		return 0
	}
}

// warmUp gives every chat one turn and waits for the answers.
func (d *benchDriver) warmUp(b *testing.B) {
	b.Helper()
	d.startAll()
	d.drain(b)
}

func (d *benchDriver) startAll() {
	for i := range d.chats {
		d.send(i)
	}
}

// next waits for one reply and sends that chat its next step.
func (d *benchDriver) next(b *testing.B) { d.send(d.wait(b)) }

// sendIdle sends the next step to the next chat with nothing in flight,
// collecting the replies that arrived meanwhile.
func (d *benchDriver) sendIdle(b *testing.B) {
	for {
		select {
		case <-d.done:
			continue
		default:
		}
		d.mu.Lock()
		found := -1
		for k := range d.chats {
			if i := (d.rr + k) % d.chats; !d.inflight[i] {
				found = i
				break
			}
		}
		d.mu.Unlock()
		if found >= 0 {
			d.rr = found + 1
			d.send(found)
			return
		}
		select {
		case <-d.done:
		case <-time.After(waitFor):
			b.Fatal("every chat waits for a reply")
		}
	}
}

// drain waits for every update in flight and returns how many updates were
// answered since the last call to latencies.
func (d *benchDriver) drain(b *testing.B) int {
	b.Helper()
	for {
		d.mu.Lock()
		busy := slices.Contains(d.inflight, true)
		n := len(d.lat)
		d.mu.Unlock()
		if !busy {
			for len(d.done) > 0 {
				<-d.done
			}
			return n
		}
		d.wait(b)
	}
}

// latencies returns the latencies recorded so far and starts afresh.
func (d *benchDriver) latencies() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	lat := d.lat
	d.lat = nil
	return lat
}

// check fails the benchmark if the bot did not answer as measured.
func (d *benchDriver) check(b *testing.B) {
	b.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wrong != "" {
		b.Fatal(d.wrong)
	}
	if d.extra > 0 {
		b.Fatalf("%d replies more than one per update", d.extra)
	}
}

func benchPercentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func benchMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
