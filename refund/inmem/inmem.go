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
	"slices"
	"sync"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Store is an in-memory refund.LifecycleStore, AgentStore and
// EscalationStore. It is safe for concurrent use. Its data is lost with
// the process.
//
// Its methods are its parts', one part per domain as in the PostgreSQL
// store, each embedded so that its methods are the Store's; a part's file
// says what it keeps. Every part works on the one state, under its one
// lock.
type Store struct {
	*state

	orders      // order.go
	cases       // case.go, case_list.go, facts.go
	lifecycle   // lifecycle.go
	payouts     // payout.go
	outbox      // outbox.go
	stats       // stats.go
	agents      // agents.go
	escalations // escalations.go, escalation_place.go
	holds       // escalation_hold.go
	queue       // escalation_queue.go
	buyerWords  // escalation_words.go
}

// state is everything the Store holds, behind one lock: a change touches
// several domains at once (a payout, the order's refunded sum, the ledger,
// the outbox), and is checked in full before any of it is made, which
// only one lock over all of them gives. Inside a part, s.cases, s.orders
// and the like are these maps, not the parts of the same names. Its
// methods are the reads more than one part needs.
type state struct {
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
	st := newState()
	return &Store{state: st, orders: orders{st}, cases: cases{st}, lifecycle: lifecycle{st},
		payouts: payouts{st}, outbox: outbox{st}, stats: stats{st}, agents: agents{st},
		escalations: escalations{st}, holds: holds{st}, queue: queue{st}, buyerWords: buyerWords{st}}
}

func newState() *state {
	return &state{
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

// clock is the time a write records, in the form PostgreSQL returns.
func (s *state) clock() time.Time { return normTime(s.now()) }

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
