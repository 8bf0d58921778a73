package bot

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows"
)

// handlerFunc adapts a function to Handler.
type handlerFunc func(ctx context.Context, in flows.Input, send flows.Sender) error

func (f handlerFunc) Handle(ctx context.Context, in flows.Input, send flows.Sender) error {
	return f(ctx, in, send)
}

// runPoller runs a Poller on a fake Telegram the way main does, until the
// test ends; each input is recorded, then given to handle.
func runPoller(t *testing.T, srv *telegramfake.Server, handle handlerFunc) (inputs func() []flows.Input) {
	t.Helper()
	conn, err := Connect(fakeToken, srv.Endpoint(), 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []flows.Input
	)
	p, err := NewPoller(Config{
		Connection: conn, Sender: NewSender(conn.API, nil, SenderOptions{}), PollTimeout: time.Second, AlbumWait: 50 * time.Millisecond,
		Handler: handlerFunc(func(ctx context.Context, in flows.Input, send flows.Sender) error {
			mu.Lock()
			got = append(got, in)
			mu.Unlock()
			return handle(ctx, in, send)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, context.Background()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		conn.Close()
	})
	return func() []flows.Input {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// TestPollerInForum runs the loop on a forum: each input knows its topic,
// an album in a topic is one input, and answers go back to the topic.
func TestPollerInForum(t *testing.T) {
	srv, s, thread := openTopic(t)
	ctx := context.Background()
	other, err := s.CreateTopic(ctx, forumChat.ID, "#2 R-000002")
	if err != nil {
		t.Fatal(err)
	}
	card, err := s.Post(ctx, forumChat.ID, flows.Message{Text: "Case R-1", ThreadID: thread, Buttons: twoButtons})
	if err != nil {
		t.Fatal(err)
	}
	agent := telegramfake.User{ID: 7, FirstName: "Kim"}
	// All waiting before the loop starts, so they come in one batch.
	srv.SendTextInTopic(forumChat, agent, thread, "/take")
	srv.ReplyTextInTopic(forumChat, agent, thread, card, "on it")
	srv.SendPhotoInTopic(forumChat, agent, other, []byte("jpeg 1"), "parcel", "album-1")
	srv.SendPhotoInTopic(forumChat, agent, other, []byte("jpeg 2"), "", "album-1")
	srv.SendText(forumChat, agent, "hi all")
	srv.PressButton(forumChat, agent, card, "desk:take:1")

	answered := len(srv.Messages(forumChat.ID))
	inputs := runPoller(t, srv, func(ctx context.Context, in flows.Input, send flows.Sender) error {
		if in.Callback != nil {
			return send.AnswerCallback(ctx, in.Callback.ID, "")
		}
		return send.Send(ctx, in.ChatID, flows.Message{Text: "seen", ThreadID: in.ThreadID, ReplyTo: in.ReplyToMessageID})
	})
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The updates are confirmed only after the batch was handled, by the
	// next poll.
	err = srv.WaitFor(wait, func(s *telegramfake.Server) bool {
		return len(s.CallbackAnswers()) == 1 && len(s.Messages(forumChat.ID)) == answered+4 && s.Pending() == 0
	})
	if err != nil {
		t.Fatalf("%v: inputs %+v, pending %d", err, inputs(), srv.Pending())
	}

	type want struct {
		command     string
		thread      int
		replyTo     int
		files       int
		callback    bool
		updateCount int
	}
	wants := []want{
		{command: "take", thread: thread, updateCount: 1},
		{thread: thread, replyTo: card, updateCount: 1},
		{thread: other, files: 2, updateCount: 2},
		{updateCount: 1},
		{thread: thread, callback: true, updateCount: 1},
	}
	got := inputs()
	if len(got) != len(wants) {
		t.Fatalf("inputs = %+v", got)
	}
	for i, w := range wants {
		in := got[i]
		if in.Command != w.command || in.ThreadID != w.thread || in.ReplyToMessageID != w.replyTo || len(in.Files) != w.files ||
			(in.Callback != nil) != w.callback || len(in.UpdateIDs) != w.updateCount {
			t.Errorf("input %d = %+v, want %+v", i, in, w)
		}
	}
	answers := srv.Messages(forumChat.ID)[answered:]
	for i, wantThread := range []int{thread, thread, other, 0} {
		if a := answers[i]; a.ThreadID != wantThread || a.ReplyToMessageID != wants[i].replyTo {
			t.Errorf("answer %d = %+v, want topic %d", i, a, wantThread)
		}
	}
}

// goroutineID is the running goroutine's number, as its stack trace names
// it: the tests' way to see which goroutine ran what.
func goroutineID(t *testing.T) int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, err := strconv.Atoi(strings.Fields(strings.TrimPrefix(string(buf), "goroutine "))[0])
	if err != nil {
		t.Errorf("goroutine ID in %q: %v", buf, err)
	}
	return id
}

// TestHandleBatchOnKeptGoroutines runs batches the way Run does: each
// chat's inputs in order, at most cfg.Workers chats at once, and a batch's
// chats on the goroutines of the batch before.
func TestHandleBatchOnKeptGoroutines(t *testing.T) {
	const (
		chats   = 8
		perChat = 3
		workers = 4
	)
	var (
		mu         sync.Mutex
		texts      = map[int64][]string{}
		goroutines = map[int]bool{}
		running    int
		maxRunning int
	)
	p := &Poller{cfg: Config{Workers: workers, Logger: slog.New(slog.DiscardHandler),
		Sender: NewSender(nil, nil, SenderOptions{}),
		Handler: handlerFunc(func(ctx context.Context, in flows.Input, send flows.Sender) error {
			mu.Lock()
			texts[in.ChatID] = append(texts[in.ChatID], in.Text)
			goroutines[goroutineID(t)] = true
			running++
			maxRunning = max(maxRunning, running)
			mu.Unlock()
			time.Sleep(time.Millisecond) // so that chats overlap
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}),
	}}
	batch := func(first int) []update {
		var updates []update
		for i := range chats * perChat {
			chat := &tgbotapi.Chat{ID: int64(100 + i%chats), Type: "private"}
			updates = append(updates, update{Update: tgbotapi.Update{UpdateID: first + i, Message: &tgbotapi.Message{
				MessageID: first + i, Chat: chat, From: &tgbotapi.User{ID: chat.ID}, Text: strconv.Itoa(i / chats)}}})
		}
		return updates
	}
	chatWorkers := flows.NewWorkers(time.Minute, 64)
	defer chatWorkers.Close()

	var firstBatch map[int]bool
	for round := range 2 {
		if _, retry, _ := p.handleBatch(context.Background(), chatWorkers, batch(1+round*chats*perChat)); retry {
			t.Fatalf("round %d: batch to retry", round)
		}
		mu.Lock()
		for chat, got := range texts {
			if want := []string{"0", "1", "2"}; !slices.Equal(got, want) {
				t.Errorf("round %d: chat %d handled %q, want %q in order", round, chat, got, want)
			}
		}
		if maxRunning > workers {
			t.Errorf("round %d: %d chats at once, want at most %d", round, maxRunning, workers)
		}
		if round == 0 {
			firstBatch = goroutines
		} else {
			for g := range goroutines {
				if !firstBatch[g] {
					t.Errorf("the second batch ran on goroutine %d, not one of the first batch's %v", g, firstBatch)
				}
			}
		}
		texts, goroutines, maxRunning = map[int64][]string{}, map[int]bool{}, 0
		mu.Unlock()
		// Between batches Run polls Telegram: time for the goroutines to
		// go idle.
		time.Sleep(100 * time.Millisecond)
	}
}
