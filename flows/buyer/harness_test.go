package buyer

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// dialogEnv runs the real dialog in the real flows runtime, over the
// in-memory refund core and a Redis session store on miniredis: what a
// buyer's message meets in production, minus Telegram.
type dialogEnv struct {
	t        testing.TB
	texts    *locales.Bundle
	store    *inmem.Store
	core     *refund.Service
	runtime  *flows.Runtime
	dialog   *Dialog
	sessions *redisstore.Store
	desk     *recordingDesk
	send     *recordingSender
	// dispatcher delivers what the turns queue, to send.
	dispatcher *flows.Dispatcher
	update     int
}

// The orders every dialogEnv knows. Buyer 1001 owns the bound ones;
// TP20261120003 is unbound (phone 13800138000); KM20261120001 has an open
// case, R-000001.
const (
	testBuyer = 1001
	openOrder = "KM20261120001"
	freeOrder = "KM20261120002"
	phoneOrdr = "TP20261120003"
	vipOrder  = "VIP20261120004"
)

func newDialogEnv(t testing.TB) *dialogEnv {
	t.Helper()
	ctx := context.Background()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	texts, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	store := inmem.New()
	core, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: refund.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, o := range []refund.Order{
		{ID: openOrder, BuyerTelegramID: testBuyer, ContactPhone: "13900139000", Product: "王者荣耀点卡 100元",
			Category: refund.CategoryGameCard, AmountPaid: 9500, ListPrice: 10000},
		{ID: freeOrder, BuyerTelegramID: testBuyer, ContactPhone: "13900139000", Product: "网易一卡通 50元",
			Category: refund.CategoryGameCard, AmountPaid: 4800, ListPrice: 5000},
		{ID: phoneOrdr, ContactPhone: "13800138000", Product: "QQ币充值 30元", Category: refund.CategoryTopup,
			AmountPaid: 3000, ListPrice: 3000},
		{ID: vipOrder, BuyerTelegramID: testBuyer, ContactPhone: "13900139000", Product: "视频会员 月卡",
			Category: refund.CategoryMembership, AmountPaid: 2500, ListPrice: 2500},
	} {
		o.Currency, o.PaymentMethod, o.PurchasedAt, o.DeliveredAt = "CNY", refund.PayAlipay, now.Add(-2*time.Hour), now.Add(-2*time.Hour)
		if _, err := store.UpsertOrder(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := core.Submit(ctx, refund.NewCase{OrderID: openOrder, BuyerUserID: testBuyer, ChatID: testBuyer,
		Reason: refund.ReasonInvalidCode, Statement: "卡密无效", RequestedAmount: 9500, Currency: "CNY",
		Language: "zh-CN", SubmissionKey: "seed"}); err != nil {
		t.Fatal(err)
	}
	sessions := redisstore.New(rdb, "corpus:", time.Hour)
	desk := &recordingDesk{}
	d, err := New(Config{Core: core, Desk: desk, Attempts: sessions, Texts: texts})
	if err != nil {
		t.Fatal(err)
	}
	send := &recordingSender{}
	dispatcher, err := flows.NewDispatcher(flows.DispatcherConfig{Queue: sessions, Sender: send,
		Retryable: func(error) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = dispatcher.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	// A rating button ("r:<escalation>:<n>") is the desk's, which records
	// the rating and hands the turn on with Rated set, as desk.Hold does.
	rated := flows.HandlerFunc(func(ctx context.Context, ft *flows.Turn) error {
		if cb := ft.In.Callback; cb != nil && strings.HasPrefix(cb.Data, "r:") {
			id, _, _ := strings.Cut(strings.TrimPrefix(cb.Data, "r:"), ":")
			ft.Rated, _ = flows.ParseID(id)
		}
		return d.Serve(ctx, ft)
	})
	rt, err := flows.NewRuntime(flows.RuntimeConfig{Sessions: sessions, Texts: texts, Handler: rated, Dispatcher: dispatcher})
	if err != nil {
		t.Fatal(err)
	}
	return &dialogEnv{t: t, texts: texts, store: store, core: core, runtime: rt, dialog: d, sessions: sessions, desk: desk,
		send: send, dispatcher: dispatcher}
}

// settle waits until every queued message is delivered, so that a turn's
// replies can be read as soon as it was handled.
func (e *dialogEnv) settle() {
	e.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n, err := e.sessions.Queued(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 && e.dispatcher.Busy() == 0 {
			return
		}
	}
	e.t.Fatal("queued messages not delivered within 5 s")
}

// turnResult is what one input made the dialog do.
type turnResult struct {
	replies   []flows.Message
	answer    string // the callback's toast
	escalated bool
	flagged   bool
	// comments are the rating comments the turn handed the desk.
	comments []string
	state    State
}

func (r turnResult) text() string {
	var b strings.Builder
	for _, m := range r.replies {
		b.WriteString(m.Text + "\n")
	}
	return b.String()
}

// say sends text (a command when it starts with '/') from the buyer's chat.
func (e *dialogEnv) say(chat int64, lang, text string) turnResult {
	in := flows.Input{ChatID: chat, Chat: flows.ChatPrivate, UserID: testBuyer, FirstName: "小明", LanguageCode: lang,
		Text: text, At: time.Now()}
	if cmd, ok := strings.CutPrefix(text, "/"); ok {
		name, args, _ := strings.Cut(cmd, " ")
		in.Command, in.Text = strings.ToLower(name), strings.TrimSpace(args)
	}
	return e.handle(chat, in)
}

// press presses the button labelled label of m.
func (e *dialogEnv) press(chat int64, lang string, m flows.Message, label string) turnResult {
	e.t.Helper()
	for _, row := range m.Buttons {
		for _, b := range row {
			if strings.Contains(b.Text, label) {
				return e.handle(chat, flows.Input{ChatID: chat, Chat: flows.ChatPrivate, UserID: testBuyer, LanguageCode: lang,
					Callback: &flows.Callback{ID: "cb", Data: b.Data, MessageID: 1}, At: time.Now()})
			}
		}
	}
	e.t.Fatalf("no button %q in %q", label, m.Text)
	return turnResult{}
}

func (e *dialogEnv) handle(chat int64, in flows.Input) turnResult {
	e.t.Helper()
	e.update++
	in.UpdateIDs = []int{e.update}
	e.send.reset()
	e.desk.reset()
	if err := e.runtime.Handle(context.Background(), in, e.send); err != nil {
		e.t.Fatalf("handle %q: %v", in.Text, err)
	}
	e.settle()
	r := turnResult{replies: e.send.take(), answer: e.send.answer, escalated: e.desk.escalated, flagged: e.desk.flagged,
		comments: e.desk.takeComments()}
	r.state = e.sessionState(chat)
	return r
}

// sessionState reads the chat's saved step by running a no-op claim.
func (e *dialogEnv) sessionState(chat int64) State {
	var s State
	probe := flows.HandlerFunc(func(_ context.Context, t *flows.Turn) error { s = t.Sess.State; return nil })
	rt, err := flows.NewRuntime(flows.RuntimeConfig{Sessions: e.sessions, Texts: e.texts, Handler: probe,
		Dispatcher: e.dispatcher})
	if err != nil {
		e.t.Fatal(err)
	}
	e.update++
	if err := rt.Handle(context.Background(), flows.Input{ChatID: chat, Chat: flows.ChatPrivate, UpdateIDs: []int{e.update}}, e.send); err != nil {
		e.t.Fatal(err)
	}
	if s == "" {
		return StateIdle
	}
	return s
}

// recordingDesk is a desk with agents that records what the dialog asked.
type recordingDesk struct {
	mu                 sync.Mutex
	escalated, flagged bool
	// comments are the rating comments the dialog handed on.
	comments []string
}

func (d *recordingDesk) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.escalated, d.flagged = false, false
}

func (d *recordingDesk) Enabled() bool { return true }

func (d *recordingDesk) Escalate(_ context.Context, t *flows.Turn, _ int64, _ refund.EscalationReason) error {
	d.mu.Lock()
	d.escalated = true
	d.mu.Unlock()
	t.Say(locales.PersonStepKept, nil) // some text in the buyer's language
	return nil
}

func (d *recordingDesk) Flag(context.Context, *flows.Turn) {
	d.mu.Lock()
	d.flagged = true
	d.mu.Unlock()
}

func (d *recordingDesk) takeComments() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.comments
	d.comments = nil
	return out
}

func (d *recordingDesk) KeepForAgent(context.Context, *flows.Turn) (bool, error) { return false, nil }

func (d *recordingDesk) Comment(_ context.Context, t *flows.Turn, _ int64, text string) (bool, error) {
	d.mu.Lock()
	d.comments = append(d.comments, text)
	d.mu.Unlock()
	t.Say(locales.RateCommentThanks, nil)
	return true, nil
}

func (d *recordingDesk) Verify(_ context.Context, t *flows.Turn) error {
	t.Out = append(t.Out, flows.Message{Text: "[verify]"})
	return nil
}

// recordingSender keeps what a turn sent.
type recordingSender struct {
	mu     sync.Mutex
	out    []flows.Message
	answer string
}

func (s *recordingSender) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out, s.answer = nil, ""
}

func (s *recordingSender) take() []flows.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out
	s.out = nil
	return out
}

func (s *recordingSender) Send(_ context.Context, _ int64, m flows.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.out, m)
	return nil
}

func (s *recordingSender) Post(ctx context.Context, chatID int64, m flows.Message) (int, error) {
	return 1, s.Send(ctx, chatID, m)
}

func (s *recordingSender) PostAlbum(context.Context, int64, []refund.Evidence, flows.Message) ([]int, error) {
	return []int{1}, nil
}

func (s *recordingSender) AnswerCallback(_ context.Context, _, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = text
	return nil
}

func (s *recordingSender) RemoveKeyboard(context.Context, int64, int) error { return nil }

func (s *recordingSender) Edit(context.Context, int64, int, flows.Message) error { return nil }
