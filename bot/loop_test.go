package bot

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

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
