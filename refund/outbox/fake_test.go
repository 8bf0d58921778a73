package outbox_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// fakeStore is an in-memory refund.Outbox with the leasing rules of the
// interface's documentation. The real stores are tested against those
// rules in their own packages; this one lets the worker be tested alone.
type fakeStore struct {
	mu     sync.Mutex
	nextID int64
	rows   map[int64]*row
	// claimErrs are returned by the next claims, one each.
	claimErrs   []error
	completeErr error
	claims      int
	// claimed receives the number of items of every claim, when set.
	claimed chan int
}

type row struct {
	item        refund.OutboxItem
	due         time.Time
	leasedUntil time.Time
	done        bool
	lastErr     string
}

func newFakeStore() *fakeStore { return &fakeStore{rows: make(map[int64]*row)} }

// add stores a message due at once and returns its ID.
func (s *fakeStore) add(kind refund.OutboxKind, key, payload string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.rows[s.nextID] = &row{item: refund.OutboxItem{ID: s.nextID, OutboxMessage: refund.OutboxMessage{
		Kind: kind, Key: key, Payload: []byte(payload)}}}
	return s.nextID
}

func (s *fakeStore) ClaimOutbox(ctx context.Context, kind refund.OutboxKind, now time.Time, lease time.Duration, limit int) ([]refund.OutboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	items, err := s.claim(kind, now, lease, limit)
	ch := s.claimed
	s.mu.Unlock()
	if ch != nil {
		ch <- len(items)
	}
	return items, err
}

func (s *fakeStore) claim(kind refund.OutboxKind, now time.Time, lease time.Duration, limit int) ([]refund.OutboxItem, error) {
	s.claims++
	if len(s.claimErrs) > 0 {
		err := s.claimErrs[0]
		s.claimErrs = s.claimErrs[1:]
		return nil, err
	}
	var items []refund.OutboxItem
	for _, id := range slices.Sorted(maps.Keys(s.rows)) {
		r := s.rows[id]
		if r.done || r.item.Kind != kind || r.due.After(now) || r.leasedUntil.After(now) {
			continue
		}
		if len(items) == limit {
			break
		}
		r.item.Attempts++
		r.leasedUntil = now.Add(lease)
		it := r.item
		it.Payload = bytes.Clone(it.Payload)
		items = append(items, it)
	}
	return items, nil
}

func (s *fakeStore) CompleteOutbox(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.completeErr != nil {
		return s.completeErr
	}
	s.rows[id].done = true
	return nil
}

func (s *fakeStore) RetryOutbox(ctx context.Context, id int64, next time.Time, lastErr string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rows[id]
	r.due, r.leasedUntil, r.lastErr = next, time.Time{}, lastErr
	return nil
}

// get returns a copy of a row.
func (s *fakeStore) get(id int64) row {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.rows[id]
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log output written from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
