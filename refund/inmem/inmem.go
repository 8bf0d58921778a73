// Package inmem is a refund.LifecycleStore kept in memory, for the sandbox
// mode and for tests of the packages above the store.
//
// It behaves like the PostgreSQL store, as checked by the same contract
// suite (refund/storetest): the same error codes, idempotent submissions,
// one open case per order, case IDs from 1, times in UTC at microsecond
// precision, and the same money invariants: an order is never refunded
// beyond its amount paid, a case has one live payout, an approval credits
// the balance once. A change is checked in full before any of it is made,
// under the store's lock, which is what a transaction gives the PostgreSQL
// store. Values are copied in and out, so a caller cannot change stored
// data by mutating what it passed or got back.
package inmem

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Store is an in-memory refund.LifecycleStore, AgentStore and
// EscalationStore. It is safe for concurrent use. Its data is lost with
// the process.
type Store struct {
	// now is the clock, a field so that every Store reads its own and no
	// package state is shared.
	now func() time.Time

	mu     sync.RWMutex
	orders map[string]refund.Order
	// refunded is what live payouts take back from each order, the
	// PostgreSQL store's orders.refunded_cents.
	refunded map[string]refund.Money
	cases    map[int64]refund.Case
	events   map[int64][]refund.Event
	// byKey and byOrder index cases by submission key and by order, in
	// creation order.
	byKey   map[string]int64
	byOrder map[string][]int64
	lastID  int64

	payouts map[string]refund.Payout
	// payoutsByCase lists each case's payout IDs in creation order.
	payoutsByCase map[int64][]string
	ledger        []ledgerEntry
	// credited holds the references of ledger entries, one credit each.
	credited map[creditRef]bool
	// outbox is indexed by item ID - 1.
	outbox     []outboxRow
	outboxKeys map[outboxKey]bool

	agents      map[int64]refund.Agent
	boards      map[int64]boardClaim
	escalations map[int64]refund.Escalation
	// openByChat is the one open escalation of each buyer chat, the
	// PostgreSQL store's escalations_one_open_per_chat index.
	openByChat map[int64]int64
	// messages maps agents'-chat message IDs to their escalation.
	messages map[int]int64
	// threads maps forum topics to their escalation, closed ones
	// included: the PostgreSQL store's escalations_thread_id_key index.
	threads          map[int]int64
	lastEscalationID int64
	// waiting holds what queued buyers wrote for their agent, by
	// escalation, oldest first; seqs come from lastWaitingSeq.
	waiting        map[int64][]refund.WaitingMessage
	lastWaitingSeq int64
}

var (
	_ refund.LifecycleStore  = (*Store)(nil)
	_ refund.AgentStore      = (*Store)(nil)
	_ refund.EscalationStore = (*Store)(nil)
)

// ledgerEntry is one credit to a buyer's platform balance.
type ledgerEntry struct {
	userID   int64
	currency string
	amount   refund.Money
}

// creditRef is what a credit pays: a payout, or a case when the change
// had no payout, as the PostgreSQL ledger's unique indexes key it.
type creditRef struct {
	payoutID string
	caseID   int64
}

type outboxKey struct {
	kind refund.OutboxKind
	key  string
}

// outboxRow is an outbox item with its delivery state.
type outboxRow struct {
	item        refund.OutboxItem
	availableAt time.Time
	deliveredAt time.Time
	lastErr     string
}

// New returns an empty store.
func New() *Store {
	return &Store{
		now:           time.Now,
		orders:        make(map[string]refund.Order),
		refunded:      make(map[string]refund.Money),
		cases:         make(map[int64]refund.Case),
		events:        make(map[int64][]refund.Event),
		byKey:         make(map[string]int64),
		byOrder:       make(map[string][]int64),
		payouts:       make(map[string]refund.Payout),
		payoutsByCase: make(map[int64][]string),
		credited:      make(map[creditRef]bool),
		outboxKeys:    make(map[outboxKey]bool),
		agents:        make(map[int64]refund.Agent),
		boards:        make(map[int64]boardClaim),
		escalations:   make(map[int64]refund.Escalation),
		openByChat:    make(map[int64]int64),
		messages:      make(map[int]int64),
		threads:       make(map[int]int64),
		waiting:       make(map[int64][]refund.WaitingMessage),
	}
}

// normTime gives times the form PostgreSQL returns: UTC, microseconds, no
// monotonic reading. Keeping the two stores identical here means a test
// that passes against one cannot fail on a time against the other.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (s *Store) clock() time.Time { return normTime(s.now()) }

// UpsertOrder inserts or replaces an order. UpdatedAt is set to the time of
// the write, as the PostgreSQL store does. An amount paid below what
// refunds already took back from the order is an ECONFLICT error.
func (s *Store) UpsertOrder(ctx context.Context, o refund.Order) (created bool, err error) {
	if err := o.Validate(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	o.PurchasedAt, o.DeliveredAt = normTime(o.PurchasedAt), normTime(o.DeliveredAt)
	o.Usage.ActivatedAt = normTime(o.Usage.ActivatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.AmountPaid < s.refunded[o.ID] {
		return false, refund.Errorf(refund.ECONFLICT, "order %s: amount paid %s is less than already refunded", o.ID, o.AmountPaid)
	}
	o.UpdatedAt = s.clock()
	_, exists := s.orders[o.ID]
	s.orders[o.ID] = o
	return !exists, nil
}

// Order returns the order with this ID, or an ENOTFOUND error.
func (s *Store) Order(ctx context.Context, id string) (refund.Order, error) {
	if err := ctx.Err(); err != nil {
		return refund.Order{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orders[id]
	if !ok {
		return refund.Order{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", id)
	}
	return o, nil
}

// CreateCase stores a new case with its evidence and a "submitted" event.
// A retry with the same SubmissionKey returns the first case; a key already
// used by another buyer or for another order is an ECONFLICT error, so that
// a case is never handed to someone else. Another open case for the order
// is an ECONFLICT error and an unknown order an ENOTFOUND error.
func (s *Store) CreateCase(ctx context.Context, n refund.NewCase) (refund.Case, error) {
	if err := n.Validate(); err != nil {
		return refund.Case{}, err
	}
	if err := ctx.Err(); err != nil {
		return refund.Case{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[n.SubmissionKey]; ok {
		c := s.cases[id]
		if c.OrderID != n.OrderID || c.BuyerUserID != n.BuyerUserID {
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "submission key already used for case %s", c.Number())
		}
		return copyCase(c), nil
	}
	if _, ok := s.orders[n.OrderID]; !ok {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", n.OrderID)
	}
	if s.openCase(n.OrderID, 0) {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "order %s already has an open case", n.OrderID)
	}
	s.lastID++
	now := s.clock()
	c := refund.Case{
		ID:              s.lastID,
		OrderID:         n.OrderID,
		BuyerUserID:     n.BuyerUserID,
		ChatID:          n.ChatID,
		Reason:          n.Reason,
		Statement:       n.Statement,
		RequestedAmount: n.RequestedAmount,
		Currency:        n.Currency,
		Status:          refund.StatusSubmitted,
		Language:        n.Language,
		SubmissionKey:   n.SubmissionKey,
		Evidence:        n.Evidence,
		Due:             refund.Due{Kind: n.Due.Kind, At: normTime(n.Due.At)},
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	c = copyCase(c)
	s.cases[c.ID] = c
	s.byKey[c.SubmissionKey] = c.ID
	s.byOrder[c.OrderID] = append(s.byOrder[c.OrderID], c.ID)
	s.events[c.ID] = []refund.Event{{
		CaseID: c.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: now,
	}}
	return copyCase(c), nil
}

// openCase reports whether the order has an open case other than except.
func (s *Store) openCase(orderID string, except int64) bool {
	for _, id := range s.byOrder[orderID] {
		if id != except && s.cases[id].Status.Open() {
			return true
		}
	}
	return false
}

// Case returns a case with its evidence, or an ENOTFOUND error.
func (s *Store) Case(ctx context.Context, id int64) (refund.Case, error) {
	if err := ctx.Err(); err != nil {
		return refund.Case{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.cases[id]
	if !ok {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	return copyCase(c), nil
}

// CasesByOrder returns the order's cases, newest first. An order without
// cases, known or not, has an empty list.
func (s *Store) CasesByOrder(ctx context.Context, orderID string) ([]refund.Case, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var cases []refund.Case
	for _, id := range s.byOrder[orderID] {
		cases = append(cases, copyCase(s.cases[id]))
	}
	// The same order as the PostgreSQL store's ORDER BY, rather than
	// reversed insertion order, in case the wall clock stepped back.
	slices.SortFunc(cases, func(a, b refund.Case) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return cases, nil
}

// Events returns a case's history, oldest first, or an ENOTFOUND error.
func (s *Store) Events(ctx context.Context, caseID int64) ([]refund.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	events, ok := s.events[caseID]
	if !ok {
		return nil, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(caseID))
	}
	out := make([]refund.Event, len(events))
	for i, ev := range events {
		out[i] = copyEvent(ev)
	}
	return out, nil
}

// copyCase detaches the evidence slice, the only part of a case shared by
// reference. An empty list becomes nil, as the PostgreSQL store returns it.
func copyCase(c refund.Case) refund.Case {
	c.Evidence = cloneOrNil(c.Evidence)
	return c
}

// copyEvent detaches the rules slice, the only part of an event shared by
// reference.
func copyEvent(ev refund.Event) refund.Event {
	ev.Rules = cloneOrNil(ev.Rules)
	return ev
}

// cloneOrNil copies a slice, turning an empty one into nil as the
// PostgreSQL store returns it.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
