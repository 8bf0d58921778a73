package desk_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/desk"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
	"github.com/refundbot/refundbot/refund/storetest"
)

// marks is an in-memory flows.EscalationMarks.
type marks struct {
	mu     sync.Mutex
	marked map[int64]bool
}

func newMarks() *marks { return &marks{marked: map[int64]bool{}} }

func (m *marks) MarkEscalated(_ context.Context, chatID int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marked[chatID] = true
	return nil
}

func (m *marks) ClearEscalated(_ context.Context, chatID int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.marked, chatID)
	return nil
}

func (m *marks) has(chatID int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.marked[chatID]
}

// testDesk is a desk over store for the tests, its clock at now (nil:
// the time of day), with its parts; opts change its configuration.
type testDesk struct {
	desk        *desk.Desk
	cases       *refund.Service
	escalations *refund.EscalationService
	marks       *marks
	texts       *locales.Bundle
}

const testTeam = -100777

func newTestDesk(t *testing.T, store storetest.DeskStore, now func() time.Time, opts ...func(*desk.Config)) testDesk {
	t.Helper()
	svc, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: refund.DefaultPolicy(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	texts, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	escalations, err := refund.NewEscalationService(refund.EscalationServiceConfig{Escalations: store, Agents: store,
		Cases: svc, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	m := newMarks()
	cfg := desk.Config{Escalations: escalations, Marks: m, Agents: store, Cases: svc, Texts: texts,
		ChatID: testTeam, Lang: "zh-CN", Now: now}
	for _, opt := range opts {
		opt(&cfg)
	}
	d, err := desk.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testDesk{desk: d, cases: svc, escalations: escalations, marks: m, texts: texts}
}

// countingStore counts the desk's one per-turn query.
type countingStore struct {
	*inmem.Store
	byChat atomic.Int64
}

func (s *countingStore) OpenEscalationByChat(ctx context.Context, chatID int64) (refund.Escalation, error) {
	s.byChat.Add(1)
	return s.Store.OpenEscalationByChat(ctx, chatID)
}

// TestHoldAsksTheDatabaseOnlyForMarkedChats: a turn of a chat without the
// mark costs no query; a stray mark (a crash after the escalation closed,
// or before it opened) is found out and cleared, never holding the chat;
// an open escalation is never without its mark.
func TestHoldAsksTheDatabaseOnlyForMarkedChats(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Store: inmem.New()}
	td := newTestDesk(t, store, nil)
	d, m, texts := td.desk, td.marks, td.texts
	dialogRan := 0
	hold := d.Hold(flows.HandlerFunc(func(context.Context, *flows.Turn) error { dialogRan++; return nil }))
	turn := func(chat int64) *flows.Turn {
		t.Helper()
		ft := flows.NewTurn(flows.Input{ChatID: chat, UserID: chat, Chat: flows.ChatPrivate, Text: "你好"}, flows.Session{}, texts)
		ft.MaybeEscalated = m.has(chat)
		if err := hold.Serve(ctx, ft); err != nil {
			t.Fatal(err)
		}
		return ft
	}

	turn(501)
	if n := store.byChat.Load(); n != 0 || dialogRan != 1 {
		t.Fatalf("an unmarked chat: %d queries, dialog ran %d; want none and the dialog", n, dialogRan)
	}
	// A crash between the mark and the escalation: marked, nothing open.
	if err := m.MarkEscalated(ctx, 502); err != nil {
		t.Fatal(err)
	}
	turn(502)
	if m.has(502) || dialogRan != 2 {
		t.Fatalf("a stray mark: still marked %v, dialog ran %d; want it cleared and the dialog to answer", m.has(502), dialogRan)
	}
	// Escalating marks the chat first.
	ft := turn(503)
	if err := d.Escalate(ctx, ft, 0, refund.EscalateAsked); err != nil {
		t.Fatal(err)
	}
	if !m.has(503) {
		t.Fatal("an open escalation without its mark: the chat would never reach its agent")
	}
	if ft := turn(503); ft.Escalation == nil {
		t.Fatal("the marked chat's open escalation was not found")
	}
	// A mark lost with Redis comes back at start.
	if err := m.ClearEscalated(ctx, 503); err != nil {
		t.Fatal(err)
	}
	if n, err := d.SyncMarks(ctx); err != nil || n != 1 || !m.has(503) {
		t.Fatalf("SyncMarks = %d, %v; marked %v", n, err, m.has(503))
	}
}
