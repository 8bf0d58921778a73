package desk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// recorder is a Sender that keeps what it was asked to send, and fails
// the sends to a chat while fail says so.
type recorder struct {
	mu   sync.Mutex
	sent []sent
	// fail, when set, is asked before each send; an error fails it.
	fail func(chatID int64, m flows.Message, album int) error
}

type sent struct {
	chatID int64
	id     int
	msg    flows.Message
	// album is the size of the album the message came in, 0 alone.
	album int
}

func (r *recorder) Send(ctx context.Context, chatID int64, m flows.Message) error {
	_, err := r.Post(ctx, chatID, m)
	return err
}

func (r *recorder) Post(_ context.Context, chatID int64, m flows.Message) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(chatID, m, 0); err != nil {
			return 0, err
		}
	}
	return r.addLocked(chatID, m, 0), nil
}

func (r *recorder) addLocked(chatID int64, m flows.Message, album int) int {
	id := len(r.sent) + 100
	r.sent = append(r.sent, sent{chatID: chatID, id: id, msg: m, album: album})
	return id
}

func (r *recorder) PostAlbum(_ context.Context, chatID int64, files []refund.Evidence, base flows.Message) ([]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(chatID, base, len(files)); err != nil {
			return nil, err
		}
	}
	ids := make([]int, len(files))
	for i := range files {
		m := base
		m.File, m.Text = &files[i], files[i].Caption
		ids[i] = r.addLocked(chatID, m, len(files))
	}
	return ids, nil
}

func (r *recorder) Edit(context.Context, int64, int, flows.Message) error { return nil }
func (r *recorder) AnswerCallback(context.Context, string, string) error  { return nil }
func (r *recorder) RemoveKeyboard(context.Context, int64, int) error      { return nil }
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

// TestAgentNoticesOpenOneCardAndFlagLateReviews delivers an agents' notice
// while the team chat is down, then while an album fails, then twice over
// (at least once means sometimes twice), and checks: the buyer told their
// place at once and once, one card, its evidence each file once (photos as
// one album, the document alone), and the late-review flag on that card.
func TestAgentNoticesOpenOneCardAndFlagLateReviews(t *testing.T) {
	ctx := context.Background()
	const team = testTeam
	store := inmem.New()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	td := newTestDesk(t, store, clock)
	d, svc := td.desk, td.cases
	o := refund.Order{ID: "KM9", BuyerTelegramID: 7, ContactPhone: "13800001234", Product: "点卡 300",
		Category: refund.CategoryGameCard, AmountPaid: 30000, ListPrice: 30000, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-time.Hour), DeliveredAt: now.Add(-time.Hour)}
	if _, err := store.UpsertOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Submit(ctx, refund.NewCase{OrderID: "KM9", BuyerUserID: 7, ChatID: 7, Reason: refund.ReasonInvalidCode,
		Statement: "卡密无效", RequestedAmount: 30000, Currency: "CNY", Language: "zh-CN", SubmissionKey: "k",
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "F1", FileUniqueID: "U1"},
			{Kind: refund.EvidencePhoto, FileID: "F2", FileUniqueID: "U2"},
			{Kind: refund.EvidenceDocument, FileID: "D3", FileUniqueID: "U3", FileName: "bank.pdf"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Review(ctx, c.ID); err != nil || c.Status != refund.StatusHumanReview {
		t.Fatalf("review: %s, %v", c.Status, err)
	}
	// The team chat refuses everything at first, then takes the card and
	// fails the album once: each retry goes on where the last stopped.
	teamDown, albumFails := true, 1
	rec := &recorder{fail: func(chatID int64, m flows.Message, album int) error {
		switch {
		case chatID == team && teamDown:
			return errors.New("team chat unreachable")
		case chatID == team && album > 0 && albumFails > 0:
			albumFails--
			return errors.New("sendMediaGroup: 502 Bad Gateway")
		}
		return nil
	}}
	items, err := store.ClaimOutbox(ctx, refund.OutboxAgent, now.Add(time.Hour), time.Minute, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("%d agent notices, %v; want 1", len(items), err)
	}
	deliver := func() error { return d.DeliverAgentNotice(ctx, items[0], rec) }
	if err := deliver(); err == nil {
		t.Fatal("delivered while the team chat refused the card")
	}
	if buyer := rec.to(7); len(buyer) != 1 || !strings.Contains(buyer[0].msg.Text, "您前面还有 0 位") {
		t.Fatalf("buyer got %+v while the team chat was down, want their place in the queue", buyer)
	}
	teamDown = false
	if err := deliver(); err == nil {
		t.Fatal("delivered though the album failed")
	}
	if got := rec.to(team); len(got) != 1 || !strings.Contains(got[0].msg.Text, c.Number()) {
		t.Fatalf("team got %+v, want the card alone so far", got)
	}
	for range 2 { // at least once means sometimes twice
		if err := deliver(); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.CompleteOutbox(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	teamMsgs := rec.to(team)
	if len(teamMsgs) != 4 {
		t.Fatalf("team got %d messages %+v, want the card, an album of 2 photos and the document", len(teamMsgs), teamMsgs)
	}
	card := teamMsgs[0].id
	for i, want := range []struct {
		file  string
		album int
	}{{"F1", 2}, {"F2", 2}, {"D3", 0}} {
		m := teamMsgs[i+1]
		if m.msg.File == nil || m.msg.File.FileID != want.file || m.album != want.album || m.msg.ReplyTo != card {
			t.Errorf("team message %d = %+v, want %s (album of %d) under the card", i+1, m, want.file, want.album)
		}
	}
	if buyer := rec.to(7); len(buyer) != 1 {
		t.Fatalf("buyer got %d messages, want their place once: %+v", len(buyer), buyer)
	}
	e, err := store.OpenEscalationByChat(ctx, 7)
	if err != nil || e.EvidencePosted != 3 || !e.BuyerTold {
		t.Fatalf("escalation %+v, %v: want 3 files posted and the buyer told", e, err)
	}
	for _, m := range teamMsgs {
		if got, err := store.EscalationByMessage(ctx, m.id); err != nil || got.ID != e.ID {
			t.Errorf("message %d leads to escalation %+v, %v; want %d (a reply to it reaches the buyer)", m.id, got, err, e.ID)
		}
	}
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
	if len(teamMsgs) != 6 || !strings.Contains(last.msg.Text, "人工审核已超时") || last.msg.ReplyTo != teamMsgs[0].id {
		t.Fatalf("team got %+v, want the overdue flag under the one card (twice: delivered twice)", teamMsgs)
	}
}
