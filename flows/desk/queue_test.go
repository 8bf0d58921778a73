package desk_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/desk"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// recorder is a Sender that keeps what it was asked to send.
type recorder struct {
	mu   sync.Mutex
	sent []sent
}

type sent struct {
	chatID int64
	id     int
	msg    flows.Message
}

func (r *recorder) Send(ctx context.Context, chatID int64, m flows.Message) error {
	_, err := r.Post(ctx, chatID, m)
	return err
}

func (r *recorder) Post(_ context.Context, chatID int64, m flows.Message) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := len(r.sent) + 100
	r.sent = append(r.sent, sent{chatID: chatID, id: id, msg: m})
	return id, nil
}

func (r *recorder) AnswerCallback(context.Context, string, string) error { return nil }
func (r *recorder) RemoveKeyboard(context.Context, int64, int) error     { return nil }
func (r *recorder) to(chatID int64) (out []sent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sent {
		if s.chatID == chatID {
			out = append(out, s)
		}
	}
	return out
}

// TestAgentNoticesOpenOneCardAndFlagLateReviews delivers the agents'
// outbox twice over (at least once means sometimes twice) and checks one
// card, its evidence, the buyer's place in the queue, and the late-review
// flag on the same card.
func TestAgentNoticesOpenOneCardAndFlagLateReviews(t *testing.T) {
	ctx := context.Background()
	const team = -100777
	store := inmem.New()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	svc, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: refund.DefaultPolicy(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	texts, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	escalations, err := refund.NewEscalationService(refund.EscalationServiceConfig{Escalations: store, Agents: store,
		Cases: svc, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	d, err := desk.New(desk.Config{Escalations: escalations, Agents: store, Cases: svc, Texts: texts, ChatID: team,
		Lang: "zh-CN", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	o := refund.Order{ID: "KM9", BuyerTelegramID: 7, ContactPhone: "13800001234", Product: "点卡 300",
		Category: refund.CategoryGameCard, AmountPaid: 30000, ListPrice: 30000, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-time.Hour), DeliveredAt: now.Add(-time.Hour)}
	if _, err := store.UpsertOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Submit(ctx, refund.NewCase{OrderID: "KM9", BuyerUserID: 7, ChatID: 7, Reason: refund.ReasonInvalidCode,
		Statement: "卡密无效", RequestedAmount: 30000, Currency: "CNY", Language: "zh-CN", SubmissionKey: "k",
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "F1", FileUniqueID: "U1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Review(ctx, c.ID); err != nil || c.Status != refund.StatusHumanReview {
		t.Fatalf("review: %s, %v", c.Status, err)
	}
	rec := &recorder{}
	deliverAll := func(at time.Time) int {
		items, err := store.ClaimOutbox(ctx, refund.OutboxAgent, at, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			for range 2 {
				if err := d.DeliverAgentNotice(ctx, it, rec); err != nil {
					t.Fatal(err)
				}
			}
			if err := store.CompleteOutbox(ctx, it.ID); err != nil {
				t.Fatal(err)
			}
		}
		return len(items)
	}
	if n := deliverAll(now.Add(time.Hour)); n != 1 {
		t.Fatalf("%d agent notices, want 1", n)
	}
	teamMsgs := rec.to(team)
	if len(teamMsgs) != 2 || !strings.Contains(teamMsgs[0].msg.Text, c.Number()) ||
		teamMsgs[1].msg.File == nil || teamMsgs[1].msg.File.FileID != "F1" || teamMsgs[1].msg.ReplyTo != teamMsgs[0].id {
		t.Fatalf("team got %+v, want one card and its photo under it", teamMsgs)
	}
	if buyer := rec.to(7); len(buyer) != 1 || !strings.Contains(buyer[0].msg.Text, "您前面还有 0 位") {
		t.Fatalf("buyer got %+v", buyer)
	}

	// Six days later the review is late: the sweeper flags it on the card.
	now = now.Add(6 * 24 * time.Hour)
	if n, err := svc.Sweep(ctx, 10); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if n := deliverAll(now.Add(time.Hour)); n != 1 {
		t.Fatalf("%d overdue notices, want 1", n)
	}
	teamMsgs = rec.to(team)
	last := teamMsgs[len(teamMsgs)-1]
	if len(teamMsgs) != 4 || !strings.Contains(last.msg.Text, "人工审核已超时") || last.msg.ReplyTo != teamMsgs[0].id {
		t.Fatalf("team got %+v, want the overdue flag under the one card (twice: delivered twice)", teamMsgs)
	}
}
