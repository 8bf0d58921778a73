package desk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/desk"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// editor is a recorder that also keeps the edits it was asked for, and
// fails those to a chat while failEdit says so.
type editor struct {
	*recorder
	mu       sync.Mutex
	edits    []sent
	failEdit func(chatID int64) error
}

func (e *editor) Edit(_ context.Context, chatID int64, messageID int, m flows.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failEdit != nil {
		if err := e.failEdit(chatID); err != nil {
			return err
		}
	}
	e.edits = append(e.edits, sent{chatID: chatID, id: messageID, msg: m})
	return nil
}

// take returns the edits made since the last call.
func (e *editor) take() []sent {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.edits
	e.edits = nil
	return out
}

var errBlocked = errors.New("Forbidden: bot was blocked by the user")

// TestRefreshPlacesEditsOnlyWhatMoved: each queued buyer's place message
// is edited when, and only when, what it should say changed; at most once
// a gap per buyer and a few edits per refresh, the front of the queue
// first; a buyer who blocked the bot is not tried again until their place
// moves, and a failed edit is tried again; of two replicas refreshing at
// once, one makes each edit.
func TestRefreshPlacesEditsOnlyWhatMoved(t *testing.T) {
	ctx := context.Background()
	store := inmem.New()
	now := time.Now().UTC()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	opts := func(c *desk.Config) {
		c.PlaceEditGap, c.PlaceEdits = time.Minute, 2
		c.Undeliverable = func(err error) bool { return errors.Is(err, errBlocked) }
	}
	td := newTestDesk(t, store, clock, opts)
	replica := newTestDesk(t, store, clock, opts).desk
	agent := refund.Agent{UserID: 9001, DisplayName: "张三", StaffNumber: "K1"}
	if err := store.PutAgent(ctx, agent); err != nil {
		t.Fatal(err)
	}
	agent, _ = store.Agent(ctx, agent.UserID)

	// waits queues chat's buyer with a place message (500 + chat) whose
	// text is not known, as after a restart that lost it: it needs an edit.
	waits := func(chat int64) refund.Escalation {
		t.Helper()
		e, _, err := td.escalations.Escalate(ctx, refund.Escalation{BuyerChatID: chat, BuyerUserID: chat,
			Language: "zh-CN", Reason: refund.EscalateAsked})
		if err != nil {
			t.Fatal(err)
		}
		if err := td.escalations.LinkPlace(ctx, e.ID, 500+int(chat)); err != nil {
			t.Fatal(err)
		}
		advance(time.Second) // a queue in the order they came
		return e
	}
	var queue []refund.Escalation
	for chat := int64(1); chat <= 4; chat++ {
		queue = append(queue, waits(chat))
	}
	ed := &editor{recorder: &recorder{}}
	// refresh checks the edits a refresh made; tries, past want, are the
	// attempts that failed (they count against the limits all the same).
	refresh := func(t *testing.T, d *desk.Desk, tries int, want ...string) {
		t.Helper()
		n, err := d.RefreshPlaces(ctx, ed)
		got := ed.take()
		var shown []string
		for _, e := range got {
			if e.id != 500+int(e.chatID) {
				t.Errorf("edited message %d of chat %d, want its place message %d", e.id, e.chatID, 500+e.chatID)
			}
			ahead := strings.SplitN(strings.SplitN(e.msg.Text, "您前面还有 ", 2)[1], " 位", 2)[0]
			shown = append(shown, string(rune('0'+e.chatID))+":"+ahead)
		}
		if strings.Join(shown, " ") != strings.Join(want, " ") || n != len(want)+tries {
			t.Fatalf("refresh edited %q (reported %d, %v), want %q", shown, n, err, want)
		}
	}

	steps := []struct {
		name  string
		do    func(t *testing.T)
		tries int
		want  []string
	}{
		{"the front of the queue first, two a refresh", nil, 0, []string{"1:0", "2:1"}},
		{"then the rest", nil, 0, []string{"3:2", "4:3"}},
		{"nothing moved: no edit", nil, 0, nil},
		{"the first is taken, but the others were edited just now", func(t *testing.T) {
			if _, err := td.escalations.Take(ctx, queue[0].ID, agent); err != nil {
				t.Fatal(err)
			}
		}, 0, nil},
		{"a minute on, everyone moves up", func(*testing.T) { advance(time.Minute) }, 0, []string{"2:0", "3:1"}},
		{"and the last at the next refresh", nil, 0, []string{"4:2"}},
		{"a buyer who blocked the bot", func(t *testing.T) {
			advance(time.Minute)
			ed.failEdit = func(chat int64) error {
				if chat == 3 {
					return errBlocked
				}
				return nil
			}
			if _, err := td.escalations.Take(ctx, queue[1].ID, agent); err != nil {
				t.Fatal(err)
			}
		}, 1, []string{"4:1"}},
		{"is not tried again while the place stays", func(*testing.T) { advance(time.Minute); ed.failEdit = nil }, 0, nil},
	}
	for _, st := range steps {
		// Each step goes on from the last: the first to fail ends them.
		if !t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do(t)
			}
			refresh(t, td.desk, st.tries, st.want...)
		}) {
			return
		}
	}

	t.Run("a failed edit is tried again after the gap", func(t *testing.T) {
		if _, err := td.escalations.Take(ctx, queue[2].ID, agent); err != nil {
			t.Fatal(err)
		}
		advance(time.Minute)
		ed.failEdit = func(int64) error { return errors.New("502 Bad Gateway") }
		if n, err := td.desk.RefreshPlaces(ctx, ed); err == nil || n != 1 {
			t.Fatalf("refresh with a failing edit = %d, %v; want one attempt, failed", n, err)
		}
		ed.failEdit = nil
		refresh(t, td.desk, 0) // within the gap of the failed attempt
		advance(time.Minute)
		refresh(t, td.desk, 0, "4:0")
	})
	t.Run("two replicas at once make each edit once", func(t *testing.T) {
		for chat := int64(5); chat <= 8; chat++ {
			waits(chat)
		}
		var wg sync.WaitGroup
		for _, d := range []*desk.Desk{td.desk, replica, td.desk, replica} {
			wg.Go(func() {
				if _, err := d.RefreshPlaces(ctx, ed); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		edited := map[int64]int{}
		for _, e := range ed.take() {
			edited[e.chatID]++
		}
		for chat := int64(5); chat <= 8; chat++ {
			if edited[chat] != 1 {
				t.Errorf("chat %d's place edited %d times, want once", chat, edited[chat])
			}
		}
	})
}
