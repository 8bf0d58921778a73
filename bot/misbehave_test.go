package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows"
)

// Tests against a Bot API that misbehaves as servers other than
// Telegram's were seen to.

func startBare(t *testing.T) *telegramfake.Server {
	t.Helper()
	srv, err := telegramfake.Start(fakeToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func waitUntil(t *testing.T, srv *telegramfake.Server, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitFor(ctx, func(*telegramfake.Server) bool { return ok() }); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// A server cut an album across two polls, and its re-poll for the rest
// left out the album's first photo: the bot must still see all four.
func TestAlbumKeptWhenTheRepollLeavesOutItsStart(t *testing.T) {
	srv := startBare(t)
	for i := range 4 {
		srv.SendPhoto(buyerChat, buyer, []byte(fmt.Sprintf("jpeg %d", i)), "", "album-4")
	}
	srv.CutNextPoll(2)
	srv.SkipFirstOnNextPoll()
	inputs := runPoller(t, srv, func(context.Context, flows.Input, flows.Sender) error { return nil })
	waitUntil(t, srv, "the album confirmed", func() bool { return srv.Pending() == 0 && len(inputs()) > 0 })
	got := inputs()
	if len(got) != 1 || len(got[0].Files) != 4 || len(got[0].UpdateIDs) != 4 {
		var files []int
		for _, in := range got {
			files = append(files, len(in.Files))
		}
		t.Fatalf("inputs with %v files, want one album of 4", files)
	}
}

// A server that ends every long poll at once with nothing must not make
// the bot call it thousands of times a second; updates still come through
// once it behaves.
func TestEarlyEmptyPollsBackOff(t *testing.T) {
	srv := startBare(t)
	srv.AnswerPollsEmpty(5)
	inputs := runPoller(t, srv, func(context.Context, flows.Input, flows.Sender) error { return nil })
	time.Sleep(time.Second)
	if n := srv.Calls("getUpdates"); n > 6 {
		t.Fatalf("%d getUpdates calls in a second of early empty polls, want a back-off", n)
	}
	srv.SendText(buyerChat, buyer, "还在吗")
	waitUntil(t, srv, "the text handled after the early polls", func() bool { return len(inputs()) == 1 })
}

// Answers that are not Bot API answers keep their status and the start of
// their body in the error, and a server error is worth retrying.
func TestAnswersThatAreNotBotAPIAnswers(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		status     int
		want       string
		transient  bool
	}{
		{"proxy page", "<html><body>\n<h1>502 Bad Gateway</h1></body></html>", 502,
			"getMe: HTTP 502 from %s: <html><body> <h1>502 Bad Gateway</h1></body></html>", true},
		{"empty 503", "", 503, "getMe: HTTP 503 from %s", true},
		{"wrong endpoint", "404 page not found", 404, "getMe: HTTP 404 from %s: 404 page not found", false},
		{"JSON without an error", `{"ok":false}`, 500, `getMe: HTTP 500 from %s: {"ok":false}`, true},
		{"token quoted", "no route to /bot" + fakeToken + "/getMe", 502, "getMe: HTTP 502 from %s: no route to /bot<token>/getMe", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startBare(t)
			srv.FailNextRaw("getMe", 1, tt.status, tt.body)
			_, err := Connect(fakeToken, srv.Endpoint(), time.Second, time.Second)
			host := strings.TrimPrefix(strings.Split(srv.Endpoint(), "/bot")[0], "http://")
			if want := fmt.Sprintf(tt.want, host); err == nil || err.Error() != want {
				t.Fatalf("Connect = %v,\nwant %s", err, want)
			}
			if got := Transient(err); got != tt.transient {
				t.Errorf("Transient = %v, want %v", got, tt.transient)
			}
		})
	}
	t.Run("Telegram's own error object is Telegram's error", func(t *testing.T) {
		srv, s := startSender(t)
		srv.FailNext("sendMessage", 1, 403, 0)
		err := s.Send(context.Background(), buyerChat.ID, flows.Message{Text: "hi"})
		var tgErr *tgbotapi.Error
		if !errors.As(err, &tgErr) || tgErr.Code != 403 || Transient(err) {
			t.Fatalf("Send = %v, want Telegram's 403, permanent", err)
		}
	})
	t.Run("a send through a flaky proxy is retried", func(t *testing.T) {
		srv, s := startSender(t)
		srv.SendText(buyerChat, buyer, "hi") // the chat exists
		srv.FailNextRaw("sendMessage", 2, 502, "<html>Bad Gateway</html>")
		if err := s.Send(context.Background(), buyerChat.ID, flows.Message{Text: "您好"}); err != nil {
			t.Fatalf("Send = %v, want it delivered on the third try", err)
		}
		if n := srv.Calls("sendMessage"); n != 3 {
			t.Errorf("%d sendMessage calls, want 3", n)
		}
	})
}

// A button press in a buyer's private chat by someone else is never sent
// by Telegram; a forged or proxied one must not act on the buyer's refund.
func TestPressByAnotherUserInAPrivateChatIsIgnored(t *testing.T) {
	srv := startBare(t)
	mallory := telegramfake.User{ID: 666, FirstName: "Mallory"}
	srv.SendText(buyerChat, buyer, "/start")
	srv.PressButton(buyerChat, mallory, 1, "m:refund")
	srv.PressButton(buyerChat, buyer, 1, "m:refund")
	inputs := runPoller(t, srv, func(context.Context, flows.Input, flows.Sender) error { return nil })
	waitUntil(t, srv, "all confirmed", func() bool { return srv.Pending() == 0 && len(inputs()) >= 2 })
	time.Sleep(100 * time.Millisecond)
	for _, in := range inputs() {
		if in.UserID != buyer.ID {
			t.Errorf("input from user %d in %d's private chat reached the dialog: %+v", in.UserID, buyer.ID, in)
		}
	}
	if n := len(inputs()); n != 2 {
		t.Errorf("%d inputs, want the buyer's text and press", n)
	}
}
