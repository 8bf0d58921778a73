package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// DeskStore is everything the escalation service runs on: cases (for the
// history hand-overs are logged in), agents and escalations.
type DeskStore interface {
	refund.LifecycleStore
	refund.AgentStore
	refund.EscalationStore
}

// RunEscalationService runs refund.EscalationService over stores made by
// open, one fresh store per subtest: the rules of the escalation
// lifecycle and its audit trail, as the desk sees them.
func RunEscalationService(t *testing.T, open func(t *testing.T) DeskStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, d *deskFixture)
	}{
		{"escalate is one open escalation per chat, the case filled in later", testServiceEscalate},
		{"take: active agents only, one holder, closed is ECONFLICT", testServiceTake},
		{"every hand-over is in the case's history", testServiceHandOversLogged},
		{"decide goes through the case rules and ends the escalation", testServiceDecide},
		{"requeue silent holds: back in the queue, logged, a replying holder kept", testServiceRequeueSilent},
		{"concurrent takes through the service: one holder", testServiceConcurrentTake},
		{"record delivery only moves forward", testServiceRecordDelivery},
		{"next takes the most urgent queued chat; assign picks online agents under the cap", testServiceNextAndAssign},
		{"a closed escalation is rated once, by its buyer, in the case's history", testServiceRate},
		{"a rating's comment is the buyer's cleaned words, once, in the case's history", testServiceCommentRating},
		{"a queued buyer's words are kept cleaned and cut, up to the limit", testServiceKeepWaiting},
		{"the wait estimate: the median per place, none without history or anyone at the desk", testServiceEstimateWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newDeskFixture(t, open(t)))
		})
	}
}

// deskFixture is a store with a case in human review, two agents, and a
// service on a clock the test moves.
type deskFixture struct {
	store   DeskStore
	cases   *refund.Service
	svc     *refund.EscalationService
	mu      sync.Mutex
	now     time.Time
	caseID  int64
	alice   refund.Agent
	bob     refund.Agent
	removed refund.Agent
}

func (d *deskFixture) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *deskFixture) advance(by time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.now.Add(by)
}

func newDeskFixture(t *testing.T, s DeskStore) *deskFixture {
	t.Helper()
	ctx := t.Context()
	// The store stamps a case with its own clock, and the policy's time
	// window reads that stamp: the fixture's clock starts at the real time.
	d := &deskFixture{store: s, now: time.Now().UTC().Truncate(time.Microsecond)}
	cases, err := refund.NewService(refund.ServiceConfig{Store: s, Policy: refund.DefaultPolicy(), Now: d.clock})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := refund.NewEscalationService(refund.EscalationServiceConfig{Escalations: s, Agents: s, Cases: cases,
		Now: d.clock})
	if err != nil {
		t.Fatal(err)
	}
	d.cases, d.svc = cases, svc
	d.alice, d.bob, d.removed = newAgent(1, "K001", "alice"), newAgent(2, "K002", "bob"), newAgent(3, "K003", "")
	for _, a := range []*refund.Agent{&d.alice, &d.bob, &d.removed} {
		mustPutAgent(t, s, *a)
		*a = mustAgent(t, s, a.UserID) // as the desk has them: from the store
	}
	if err := s.RemoveAgent(ctx, d.removed.UserID); err != nil {
		t.Fatal(err)
	}
	d.removed.Active = false
	o := refund.Order{ID: "KMDESK1", BuyerTelegramID: buyerChat, ContactPhone: "13800001234", Product: "点卡 300",
		Category: refund.CategoryGameCard, AmountPaid: 30000, ListPrice: 30000, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: d.now.Add(-time.Hour), DeliveredAt: d.now.Add(-time.Hour)}
	if _, err := s.UpsertOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	c, err := cases.Submit(ctx, refund.NewCase{OrderID: o.ID, BuyerUserID: buyerChat, ChatID: buyerChat,
		Reason: refund.ReasonInvalidCode, Statement: "卡密提示已被使用", RequestedAmount: 30000, Currency: "CNY",
		Language: "zh-CN", SubmissionKey: "desk-1",
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "F1", FileUniqueID: "U1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = cases.Review(ctx, c.ID); err != nil || c.Status != refund.StatusHumanReview {
		t.Fatalf("review: %s (%+v), %v; the fixture needs a case in human review", c.Status, c.Decided, err)
	}
	d.caseID = c.ID
	return d
}

func (d *deskFixture) escalate(t *testing.T, caseID int64) refund.Escalation {
	t.Helper()
	e, _, err := d.svc.Escalate(t.Context(), refund.Escalation{CaseID: caseID, BuyerChatID: buyerChat,
		BuyerUserID: buyerChat, Language: "zh-CN", Reason: refund.EscalateAsked})
	if err != nil {
		t.Fatalf("Escalate: %v", err)
	}
	return e
}

// agentNotes are the case's history entries written by agents: type and
// note.
func (d *deskFixture) agentNotes(t *testing.T) []string {
	t.Helper()
	events, err := d.cases.Events(t.Context(), d.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if strings.HasPrefix(e.Actor, "agent:") {
			out = append(out, strings.TrimSpace(e.Actor+" "+string(e.Type)+" "+e.Note))
		}
	}
	return out
}

func wantCodeOf(t *testing.T, what string, err error, code string) {
	t.Helper()
	if refund.ErrorCode(err) != code {
		t.Fatalf("%s: %v (code %q), want %s", what, err, refund.ErrorCode(err), code)
	}
}

func testServiceEscalate(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	first := d.escalate(t, 0)
	if first.Status != refund.EscalationQueued || first.CaseID != 0 || !first.CreatedAt.Equal(d.clock()) {
		t.Fatalf("first escalation %+v, want queued, no case, created at the service's clock", first)
	}
	again, created, err := d.svc.Escalate(ctx, refund.Escalation{CaseID: d.caseID, BuyerChatID: buyerChat,
		BuyerUserID: buyerChat, Reason: refund.EscalateHumanReview})
	if err != nil || created || again.ID != first.ID || again.CaseID != d.caseID {
		t.Fatalf("second Escalate = %+v, created %v, %v; want escalation %d with the case filled in", again, created, err, first.ID)
	}
	_, _, err = d.svc.Escalate(ctx, refund.Escalation{BuyerChatID: buyerChat + 5, BuyerUserID: buyerChat + 5,
		Reason: "bored"})
	wantCodeOf(t, "Escalate with an unknown reason", err, refund.EINVALID)
	if pos, err := d.svc.QueuePosition(ctx, first.ID); err != nil || pos != 1 {
		t.Fatalf("QueuePosition = %d, %v; want 1", pos, err)
	}
	if open, err := d.svc.OpenByChat(ctx, buyerChat); err != nil || open.ID != first.ID {
		t.Fatalf("OpenByChat = %+v, %v", open, err)
	}
}

func testServiceRecordDelivery(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	if e.EvidencePosted != 0 || e.BuyerTold {
		t.Fatalf("new escalation %+v has delivery progress", e)
	}
	for _, step := range []struct {
		posted    int
		told      bool
		wantCount int
		wantTold  bool
	}{
		{0, true, 0, true},
		{2, false, 2, true}, // told is never undone
		{1, false, 2, true}, // a slower, older delivery does not wind back
		{3, false, 3, true},
	} {
		if err := d.svc.RecordDelivery(ctx, e.ID, step.posted, step.told); err != nil {
			t.Fatal(err)
		}
		got, err := d.svc.Escalation(ctx, e.ID)
		if err != nil || got.EvidencePosted != step.wantCount || got.BuyerTold != step.wantTold {
			t.Fatalf("after RecordDelivery(%d, %v): %+v, %v; want %d posted, told %v", step.posted, step.told,
				got, err, step.wantCount, step.wantTold)
		}
	}
	wantCodeOf(t, "RecordDelivery of a negative count", d.svc.RecordDelivery(ctx, e.ID, -1, false), refund.EINVALID)
	wantCodeOf(t, "RecordDelivery of an unknown escalation", d.svc.RecordDelivery(ctx, 987654321, 1, false), refund.ENOTFOUND)
}

func (d *deskFixture) escalateChat(t *testing.T, chat int64, due time.Time) refund.Escalation {
	t.Helper()
	e, _, err := d.svc.Escalate(t.Context(), refund.Escalation{BuyerChatID: chat, BuyerUserID: chat, Language: "zh-CN",
		Reason: refund.EscalateAsked, Due: due})
	if err != nil {
		t.Fatalf("Escalate(chat %d): %v", chat, err)
	}
	return e
}

func testServiceNextAndAssign(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	later := d.escalateChat(t, buyerChat+10, d.now.Add(2*time.Hour))
	sooner := d.escalateChat(t, buyerChat+11, d.now.Add(time.Hour))
	got, err := d.svc.Next(ctx, d.alice)
	if err != nil || got.ID != sooner.ID || got.AgentUserID != d.alice.UserID {
		t.Fatalf("Next = %+v, %v; want the sooner deadline, %d", got, err, sooner.ID)
	}
	if got, err := d.svc.Next(ctx, d.bob); err != nil || got.ID != later.ID {
		t.Fatalf("second Next = %+v, %v; want %d", got, err, later.ID)
	}
	_, err = d.svc.Next(ctx, d.bob)
	wantCodeOf(t, "Next with nothing queued", err, refund.ENOTFOUND)

	// Nobody online: nobody is assigned.
	fresh := d.escalateChat(t, buyerChat+12, time.Time{})
	if _, ok, err := d.svc.Assign(ctx, fresh, 1); err != nil || ok {
		t.Fatalf("Assign with nobody online = %v, %v", ok, err)
	}
	for _, a := range []refund.Agent{d.alice, d.bob} {
		if err := d.svc.SetOnline(ctx, a, true); err != nil {
			t.Fatal(err)
		}
	}
	// Both hold one: with a cap of 1 nobody has room, with 2 both do.
	if _, ok, err := d.svc.Assign(ctx, fresh, 1); err != nil || ok {
		t.Fatalf("Assign with everyone at the cap = %v, %v", ok, err)
	}
	a, ok, err := d.svc.Assign(ctx, fresh, 2)
	if err != nil || !ok {
		t.Fatalf("Assign under the cap = %v, %v", ok, err)
	}
	if held, _ := d.svc.Escalation(ctx, fresh.ID); held.Status != refund.EscalationHeld || held.AgentUserID != a.UserID {
		t.Fatalf("assigned escalation %+v, want held by %d", held, a.UserID)
	}
	// The least loaded gets the next one.
	other := d.escalateChat(t, buyerChat+13, time.Time{})
	b, ok, err := d.svc.Assign(ctx, other, 5)
	if err != nil || !ok || b.UserID == a.UserID {
		t.Fatalf("Assign = %d, %v, %v; want the agent with fewer chats than %d", b.UserID, ok, err, a.UserID)
	}
	if err := d.svc.SetOnline(ctx, d.removed, true); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Fatalf("SetOnline of a removed agent = %v, want ENOTFOUND", err)
	}
}
