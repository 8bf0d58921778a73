package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// snapshot is everything a change can touch around one case, to show that
// a refused change touched none of it.
type snapshot struct {
	Case    refund.Case
	Events  []refund.Event
	Payouts []refund.Payout
	Balance refund.Money
	Facts   refund.CaseFacts
}

func takeSnapshot(t *testing.T, s refund.LifecycleStore, caseID int64) snapshot {
	t.Helper()
	c := mustCase(t, s, caseID)
	f, err := s.Facts(t.Context(), c, time.Time{})
	if err != nil {
		t.Fatalf("Facts(%s): %v", c.Number(), err)
	}
	return snapshot{Case: c, Events: mustEvents(t, s, caseID), Payouts: mustPayouts(t, s, caseID),
		Balance: mustBalance(t, s, c.BuyerUserID, c.Currency), Facts: f}
}

func wantUnchanged(t *testing.T, s refund.LifecycleStore, before snapshot) {
	t.Helper()
	if after := takeSnapshot(t, s, before.Case.ID); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused change left a trace\nbefore %+v\n after %+v", before, after)
	}
}

// wantNoOutbox checks that nothing of either kind can be claimed, ever.
func wantNoOutbox(t *testing.T, s refund.LifecycleStore) {
	t.Helper()
	far := day0.AddDate(10, 0, 0)
	for _, kind := range []refund.OutboxKind{refund.OutboxPayout, refund.OutboxNotice} {
		if items := mustClaim(t, s, kind, far, 100); len(items) != 0 {
			t.Errorf("outbox %s holds %v, want nothing", kind, keys(items))
		}
	}
}

// fullChange is an approval with a balance payout that touches every part
// of the store.
func fullChange(c refund.Case, payoutID string, amount refund.Money) refund.Change {
	return with(step(c, refund.StatusPayoutPending, day0.Add(time.Hour)), func(ch *refund.Change) {
		ch.Events = append([]refund.EventDraft{{Type: refund.EventStatusChanged, Status: refund.StatusApproved,
			Rules: []refund.Rule{refund.RuleFastLane}, Amount: amount}}, ch.Events...)
		ch.Decided = &refund.Amounts{Refund: amount}
		ch.Route = refund.RouteBalance
		ch.Due = &refund.Due{Kind: refund.DueRoute, At: day0.Add(25 * time.Hour)}
		ch.Appeal, ch.ReviewOverdue = true, true
		ch.Evidence = []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "late", FileUniqueID: "late-u"}}
		ch.Payout = balance(payoutID, amount)
		ch.Credit = amount
		ch.Outbox = []refund.OutboxMessage{
			{Kind: refund.OutboxNotice, Key: "paid-" + payoutID, Payload: []byte(`{"case":1}`)},
			{Kind: refund.OutboxPayout, Key: payoutID, Payload: []byte(`{}`)},
		}
	})
}

func testApplyRoundTrip(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	// Nanoseconds in another zone: the store keeps UTC microseconds.
	at := time.Date(2026, 11, 21, 17, 30, 0, 123456789, shanghai())
	due := at.Add(72 * time.Hour)
	added := []refund.Evidence{
		{Kind: refund.EvidenceDocument, FileID: "BQAC-doc-4", FileUniqueID: "B-unique-4", Size: 900,
			MIMEType: "application/pdf", FileName: "bank.pdf", Caption: "流水"},
	}
	ch := refund.Change{
		CaseID: c.ID, From: refund.StatusSubmitted, To: refund.StatusHumanReview, Actor: "agent:7", At: at,
		Events: []refund.EventDraft{
			{Type: refund.EventStatusChanged, Status: refund.StatusAutoReview},
			{Type: refund.EventEvidenceAdded, Status: refund.StatusAutoReview, Note: "1 file"},
			{Type: refund.EventStatusChanged, Status: refund.StatusHumanReview,
				Rules: []refund.Rule{refund.RuleOverThreshold, refund.RuleRiskFrequent}, Amount: 9000, Note: "too large"},
		},
		Decided:       &refund.Amounts{Refund: 9000, Fee: 450, Deduction: 100},
		Route:         refund.RouteOriginal,
		Due:           &refund.Due{Kind: refund.DueReview, At: due},
		Appeal:        true,
		ReviewOverdue: true,
		Evidence:      added,
	}
	got := mustApply(t, s, ch)

	want := c
	want.Status, want.UpdatedAt = refund.StatusHumanReview, norm(at)
	want.Decided = refund.Amounts{Refund: 9000, Fee: 450, Deduction: 100}
	want.Route = refund.RouteOriginal
	want.Due = refund.Due{Kind: refund.DueReview, At: norm(due)}
	want.Appeals, want.ReviewOverdue = 1, true
	want.Evidence = append(slices.Clone(c.Evidence), added...)
	wantUTC(t, "UpdatedAt", got.UpdatedAt)
	wantUTC(t, "Due.At", got.Due.At)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply returned\n %+v\nwant %+v", got, want)
	}
	if stored := mustCase(t, s, c.ID); !reflect.DeepEqual(stored, got) {
		t.Errorf("Case() differs from what Apply returned\n got %+v\nwant %+v", stored, got)
	}

	events := mustEvents(t, s, c.ID)
	wantEvents := []refund.Event{{CaseID: c.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: c.CreatedAt}}
	for i, d := range ch.Events {
		wantEvents = append(wantEvents, refund.Event{CaseID: c.ID, Seq: i + 2, Type: d.Type, Actor: "agent:7",
			Status: d.Status, Rules: d.Rules, Amount: d.Amount, Note: d.Note, At: norm(at)})
	}
	if !reflect.DeepEqual(events, wantEvents) {
		t.Errorf("events\n got %+v\nwant %+v", events, wantEvents)
	}
	if len(events) > 1 {
		wantUTC(t, "Event.At", events[1].At)
	}

	// A change that keeps the status, such as a reminder, numbers on.
	mustApply(t, s, refund.Change{CaseID: c.ID, From: refund.StatusHumanReview, To: refund.StatusHumanReview,
		Actor: refund.ActorSystem, At: at.Add(time.Hour),
		Events: []refund.EventDraft{{Type: refund.EventReviewOverdue, Status: refund.StatusHumanReview}}})
	if events := mustEvents(t, s, c.ID); len(events) != 5 || events[4].Seq != 5 || events[4].Type != refund.EventReviewOverdue {
		t.Errorf("after a same-status change: %+v", events)
	}
}

func testApplyOptionalFields(t *testing.T, s refund.LifecycleStore) {
	set := func(ch *refund.Change) {
		ch.Decided = &refund.Amounts{Refund: 5000, Fee: 250, Deduction: 10}
		ch.Route = refund.RouteBalance
		ch.Due = &refund.Due{Kind: refund.DueAppeal, At: day0.Add(7 * 24 * time.Hour)}
		ch.Appeal, ch.ReviewOverdue = true, true
	}
	tests := []struct {
		name   string
		change func(ch *refund.Change)
		want   func(c *refund.Case)
	}{
		{"a bare step keeps every field", func(*refund.Change) {}, func(*refund.Case) {}},
		{"a zero Due clears the deadline", func(ch *refund.Change) { ch.Due = &refund.Due{} },
			func(c *refund.Case) { c.Due = refund.Due{} }},
		{"set fields replace", func(ch *refund.Change) {
			ch.Decided = &refund.Amounts{}
			ch.Route = refund.RouteOriginal
			ch.Due = &refund.Due{Kind: refund.DueClose, At: day0.Add(time.Hour)}
		}, func(c *refund.Case) {
			c.Decided, c.Route = refund.Amounts{}, refund.RouteOriginal
			c.Due = refund.Due{Kind: refund.DueClose, At: day0.Add(time.Hour)}
		}},
		{"appeals count up", func(ch *refund.Change) { ch.Appeal = true },
			func(c *refund.Case) { c.Appeals = 2 }},
		{"review overdue stays set", func(ch *refund.Change) { ch.ReviewOverdue = false }, func(*refund.Case) {}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := caseIn(t, s, fmt.Sprintf("KM-OPT-%d", i), refund.StatusHumanReview)
			before := mustApply(t, s, with(step(c, refund.StatusRejected, day0), set))
			got := mustApply(t, s, with(step(before, refund.StatusAppealed, day0.Add(time.Minute)), tt.change))
			want := before
			want.Status, want.UpdatedAt = refund.StatusAppealed, day0.Add(time.Minute)
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("case\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func testApplyInvalid(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	other := caseIn(t, s, "KM20261120002", refund.StatusApproved)
	mustApply(t, s, with(step(other, refund.StatusPayoutPending, day0), func(ch *refund.Change) {
		ch.Payout = original("other-pay", 100)
	}))
	base := step(c, refund.StatusAutoReview, day0)
	file := refund.Evidence{Kind: refund.EvidencePhoto, FileID: "f", FileUniqueID: "u"}
	tests := []struct {
		name   string
		change func(ch *refund.Change)
		code   string
		field  string
	}{
		{"no case", func(ch *refund.Change) { ch.CaseID = 0 }, refund.EINVALID, "case_id"},
		{"unknown status", func(ch *refund.Change) { ch.To, ch.Events[0].Status = "lost", "lost" }, refund.EINVALID, "status"},
		{"no actor", func(ch *refund.Change) { ch.Actor = "" }, refund.EINVALID, "actor"},
		{"no time", func(ch *refund.Change) { ch.At = time.Time{} }, refund.EINVALID, "at"},
		{"no events", func(ch *refund.Change) { ch.Events = nil }, refund.EINVALID, "events"},
		{"last event not in To", func(ch *refund.Change) { ch.Events[0].Status = refund.StatusClosed }, refund.EINVALID, "events"},
		{"event without type", func(ch *refund.Change) { ch.Events[0].Type = "" }, refund.EINVALID, "events"},
		{"event with unknown status", func(ch *refund.Change) {
			ch.Events = append([]refund.EventDraft{{Type: refund.EventStatusChanged, Status: "lost"}}, ch.Events...)
		}, refund.EINVALID, "events"},
		{"negative credit", func(ch *refund.Change) { ch.Credit = -1 }, refund.EINVALID, "credit"},
		{"negative decided amount", func(ch *refund.Change) { ch.Decided = &refund.Amounts{Fee: -1} }, refund.EINVALID, "decided"},
		{"unknown route", func(ch *refund.Change) { ch.Route = "cash" }, refund.EINVALID, "route"},
		{"deadline without a time", func(ch *refund.Change) { ch.Due = &refund.Due{Kind: refund.DueClose} }, refund.EINVALID, "due"},
		{"deadline without a kind", func(ch *refund.Change) { ch.Due = &refund.Due{At: day0} }, refund.EINVALID, "due"},
		{"file without unique id", func(ch *refund.Change) {
			ch.Evidence = []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f"}}
		}, refund.EINVALID, "evidence"},
		{"more files than a case carries", func(ch *refund.Change) {
			ch.Evidence = slices.Repeat([]refund.Evidence{file}, refund.MaxEvidence-len(c.Evidence)+1)
		}, refund.EINVALID, "evidence"},
		{"payout without id", func(ch *refund.Change) { ch.Payout = original("", 100) }, refund.EINVALID, "payout"},
		{"payout of nothing", func(ch *refund.Change) { ch.Payout = original("p", 0) }, refund.EINVALID, "payout"},
		{"payout without route", func(ch *refund.Change) { ch.Payout = &refund.Payout{ID: "p", Amount: 100} }, refund.EINVALID, "payout"},
		{"payout already failed", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.Status = refund.PayoutFailed
		}, refund.EINVALID, "payout"},
		{"payout of another order", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.OrderID = "KM20261120002"
		}, refund.EINVALID, "payout"},
		{"payout in another currency", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.Currency = "USD"
		}, refund.EINVALID, "payout"},
		{"payout to another buyer", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.BuyerUserID = buyer + 1
		}, refund.EINVALID, "payout"},
		{"settling no payout", func(ch *refund.Change) { ch.Settle = settle("", true, "") }, refund.EINVALID, "settle"},
		{"outbox message without key", func(ch *refund.Change) {
			ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice}}
		}, refund.EINVALID, "outbox"},
		{"unknown case", func(ch *refund.Change) { ch.CaseID = other.ID + 1000 }, refund.ENOTFOUND, ""},
		{"settling an unknown payout", func(ch *refund.Change) { ch.Settle = settle("nope", true, "") }, refund.ENOTFOUND, ""},
		{"settling another case's payout", func(ch *refund.Change) { ch.Settle = settle("other-pay", true, "") }, refund.ECONFLICT, ""},
	}
	before := takeSnapshot(t, s, c.ID)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := base
			ch.Events = slices.Clone(base.Events)
			ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "n-" + tt.name}}
			ch.Credit = 1
			tt.change(&ch)
			_, err := s.Apply(t.Context(), ch)
			wantCode(t, err, tt.code)
			if tt.field != "" {
				wantField(t, err, tt.field)
			}
			wantUnchanged(t, s, before)
		})
	}
	wantNoOutbox(t, s)
	if p, err := s.Payout(t.Context(), "other-pay"); err != nil || p.Status != refund.PayoutPending {
		t.Errorf("other case's payout: %+v, %v; want it still pending", p, err)
	}
}

func testApplyStale(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	// Someone else moved the case on after c was read.
	mustApply(t, s, step(c, refund.StatusHumanReview, day0))
	before := takeSnapshot(t, s, c.ID)
	_, err := s.Apply(t.Context(), fullChange(c, "pay-1", 9550))
	wantCode(t, err, refund.ECONFLICT)
	wantUnchanged(t, s, before)
	wantNoOutbox(t, s)
	_, err = s.Payout(t.Context(), "pay-1")
	wantCode(t, err, refund.ENOTFOUND)
}

func testApplyReopen(t *testing.T, s refund.LifecycleStore) {
	first := caseIn(t, s, "KM20261120001", refund.StatusRejected)
	first = mustApply(t, s, step(first, refund.StatusClosed, day0))
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	before := takeSnapshot(t, s, first.ID)
	_, err := s.Apply(t.Context(), with(step(first, refund.StatusAppealed, day0), func(ch *refund.Change) {
		ch.Appeal = true
		ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "appealed"}}
	}))
	wantCode(t, err, refund.ECONFLICT)
	wantUnchanged(t, s, before)
	wantNoOutbox(t, s)
	mustApply(t, s, step(second, refund.StatusClosed, day0))
	if got := mustApply(t, s, step(first, refund.StatusAppealed, day0)); got.Status != refund.StatusAppealed {
		t.Errorf("reopened case is %s", got.Status)
	}
}

func testApplyAllOrNothing(t *testing.T, s refund.LifecycleStore) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c refund.Case) refund.Case
		ch    func(c refund.Case) refund.Change
	}{
		{"beyond the amount paid",
			func(t *testing.T, c refund.Case) refund.Case { return c },
			func(c refund.Case) refund.Change { return fullChange(c, "pay-big", 9551) }},
		{"a second live payout",
			func(t *testing.T, c refund.Case) refund.Case {
				return mustApply(t, s, with(step(c, refund.StatusApproved, day0), func(ch *refund.Change) {
					ch.Payout = original("pay-first", 100)
				}))
			},
			func(c refund.Case) refund.Change { return fullChange(c, "pay-second", 100) }},
		{"a payout id already used",
			func(t *testing.T, c refund.Case) refund.Case {
				other := caseIn(t, s, "KM-USED-ID", refund.StatusApproved)
				mustApply(t, s, with(step(other, refund.StatusPayoutPending, day0), func(ch *refund.Change) {
					ch.Payout = original("pay-used", 100)
				}))
				return c
			},
			func(c refund.Case) refund.Change { return fullChange(c, "pay-used", 100) }},
		{"settling a payout twice",
			func(t *testing.T, c refund.Case) refund.Case {
				return mustApply(t, s, with(step(c, refund.StatusApproved, day0), func(ch *refund.Change) {
					ch.Payout = balance("pay-done", 100)
				}))
			},
			func(c refund.Case) refund.Change {
				return with(fullChange(c, "pay-again", 100), func(ch *refund.Change) {
					ch.Payout, ch.Settle = nil, settle("pay-done", true, "")
				})
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.setup(t, caseIn(t, s, fmt.Sprintf("KM-AON-%d", i), refund.StatusApproved))
			before := takeSnapshot(t, s, c.ID)
			_, err := s.Apply(t.Context(), tt.ch(c))
			wantCode(t, err, refund.ECONFLICT)
			wantUnchanged(t, s, before)
		})
	}
	wantNoOutbox(t, s)
}

func testConcurrentApproval(t *testing.T, s refund.LifecycleStore) {
	tests := []struct {
		name     string
		payoutID func(i int) string
	}{
		// A retried request carries the same payout; two processes
		// deciding at once each mint their own.
		{"same payout", func(int) string { return "pay-1" }},
		{"a payout each", func(i int) string { return fmt.Sprintf("pay-%d", i) }},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := caseIn(t, s, fmt.Sprintf("KM-RACE-%d", n), refund.StatusApproved)
			eventsBefore := len(mustEvents(t, s, c.ID))
			const workers = 10
			errs := make([]error, workers)
			concurrently(workers, func(i int) {
				ch := fullChange(c, tt.payoutID(i), 9550)
				// The notice key is the case's: it is the same news.
				ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "paid-" + c.Number()}}
				_, errs[i] = s.Apply(t.Context(), ch)
			})
			wins := 0
			for i, err := range errs {
				switch refund.ErrorCode(err) {
				case "":
					wins++
				case refund.ECONFLICT:
				default:
					t.Errorf("approval %d: %v, want success or ECONFLICT", i, err)
				}
			}
			if wins != 1 {
				t.Errorf("%d approvals succeeded, want exactly 1", wins)
			}
			if ps := mustPayouts(t, s, c.ID); len(ps) != 1 {
				t.Errorf("%d payouts, want 1", len(ps))
			}
			if got := mustBalance(t, s, buyer, "CNY"); got != refund.Money(9550*(n+1)) {
				t.Errorf("balance %s, want %s", got, refund.Money(9550*(n+1)))
			}
			if got := len(mustEvents(t, s, c.ID)) - eventsBefore; got != 2 {
				t.Errorf("%d events appended, want the winner's 2", got)
			}
			if items := mustClaim(t, s, refund.OutboxNotice, day0.AddDate(1, 0, 0), 100); len(items) != 1 {
				t.Errorf("outbox notices %v, want one", keys(items))
			}
		})
	}
}
