package bot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

const fakeToken = "123456:sender-test"

var (
	buyer     = telegramfake.User{ID: 501, FirstName: "Bo", Username: "bo"}
	buyerChat = telegramfake.Chat{ID: 501, Type: "private"}
	teamChat  = telegramfake.Chat{ID: -100777, Type: "supergroup", Title: "Agents"}
)

// startFake starts a fake Telegram and the real tgbotapi client on it.
func startFake(t *testing.T) (*telegramfake.Server, *tgbotapi.BotAPI) {
	t.Helper()
	srv, err := telegramfake.Start(fakeToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	api, err := tgbotapi.NewBotAPIWithAPIEndpoint(fakeToken, srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return srv, api
}

// startSender is startFake with a Sender whose backoff keeps tests fast,
// and the team's supergroup known to the fake.
func startSender(t *testing.T) (*telegramfake.Server, *Sender) {
	t.Helper()
	srv, api := startFake(t)
	srv.AddChat(teamChat)
	s := NewSender(api, nil)
	s.backoff = time.Millisecond
	return srv, s
}

func units(s string) int { return len(utf16.Encode([]rune(s))) }

var twoButtons = [][]flows.Button{{{Text: "Take", Data: "desk:take:1"}, {Text: "Policy", URL: "https://example.com/p"}}}

func TestPostReplies(t *testing.T) {
	srv, api := startFake(t)
	s := NewSender(api, nil)
	_, asked := srv.SendText(buyerChat, buyer, "where is my money?")
	_, gone := srv.SendText(buyerChat, buyer, "never mind")
	if _, err := api.Request(tgbotapi.NewDeleteMessage(buyerChat.ID, gone.MessageID)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		replyTo     int
		wantReplyTo int
	}{
		{"no reply", 0, 0},
		{"reply to the buyer's message", asked.MessageID, asked.MessageID},
		// A message deleted meanwhile must not make the answer fail.
		{"reply to a deleted message", gone.MessageID, 0},
		{"reply to an unknown message", 9999, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.Post(context.Background(), buyerChat.ID, flows.Message{Text: tt.name, ReplyTo: tt.replyTo})
			if err != nil {
				t.Fatal(err)
			}
			ms := srv.Messages(buyerChat.ID)
			last := ms[len(ms)-1]
			if last.MessageID != id || last.Text != tt.name || last.ReplyToMessageID != tt.wantReplyTo {
				t.Errorf("Post = %d; sent %+v", id, last)
			}
		})
	}
}

func TestPostFile(t *testing.T) {
	srv, s := startSender(t)
	_, photo := srv.SendPhoto(buyerChat, buyer, []byte("jpeg bytes"), "broken cup", "")
	_, doc := srv.SendDocument(buyerChat, buyer, []byte("%PDF-1.4"), "receipt.pdf", "", "", "")
	card, err := s.Post(context.Background(), teamChat.ID, flows.Message{Text: "Case R-1"})
	if err != nil {
		t.Fatal(err)
	}
	big := photo.Photo[len(photo.Photo)-1]
	tests := []struct {
		name       string
		file       refund.Evidence
		wantMethod string
	}{
		{"photo", refund.Evidence{Kind: refund.EvidencePhoto, FileID: big.FileID, FileUniqueID: big.FileUniqueID}, "sendPhoto"},
		{"document", refund.Evidence{Kind: refund.EvidenceDocument, FileID: doc.Document.FileID, FileUniqueID: doc.Document.FileUniqueID}, "sendDocument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			id, err := s.Post(context.Background(), teamChat.ID, flows.Message{Text: "From Bo: broken cup", File: &file, ReplyTo: card, Buttons: twoButtons})
			if err != nil {
				t.Fatal(err)
			}
			ms := srv.Messages(teamChat.ID)
			m := ms[len(ms)-1]
			if m.MessageID != id || m.Method != tt.wantMethod || m.FileKind != string(tt.file.Kind) || m.FileID != tt.file.FileID ||
				m.Text != "From Bo: broken cup" || m.ReplyToMessageID != card || len(m.Keyboard) != 1 || len(m.Keyboard[0]) != 2 {
				t.Errorf("Post = %d; sent %+v", id, m)
			}
		})
	}
	t.Run("unknown kind is refused before Telegram", func(t *testing.T) {
		calls := srv.Calls("sendDocument") + srv.Calls("sendPhoto")
		_, err := s.Post(context.Background(), teamChat.ID, flows.Message{Text: "x", File: &refund.Evidence{Kind: "video", FileID: "f"}})
		if err == nil || Transient(err) {
			t.Errorf("err = %v, want a permanent error", err)
		}
		if n := srv.Calls("sendDocument") + srv.Calls("sendPhoto"); n != calls {
			t.Errorf("%d calls made", n-calls)
		}
	})
	t.Run("a file of the wrong kind is Telegram's 400", func(t *testing.T) {
		_, err := s.Post(context.Background(), teamChat.ID, flows.Message{File: &refund.Evidence{Kind: refund.EvidenceDocument, FileID: big.FileID}})
		var tgErr *tgbotapi.Error
		if !errors.As(err, &tgErr) || tgErr.Message != "Bad Request: type of file mismatch" || Transient(err) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestPostLongCaption(t *testing.T) {
	srv, s := startSender(t)
	_, photo := srv.SendPhoto(buyerChat, buyer, []byte("jpeg bytes"), "", "")
	big := photo.Photo[len(photo.Photo)-1]
	words := strings.TrimSpace(strings.Repeat("refund ", 300)) // 2099 characters
	id, err := s.Post(context.Background(), teamChat.ID, flows.Message{Text: words, Buttons: twoButtons,
		File: &refund.Evidence{Kind: refund.EvidencePhoto, FileID: big.FileID}})
	if err != nil {
		t.Fatal(err)
	}
	ms := srv.Messages(teamChat.ID)
	if len(ms) != 2 {
		t.Fatalf("sent %d messages, want the photo and the rest of its caption", len(ms))
	}
	file, rest := ms[0], ms[1]
	if id != file.MessageID || file.FileKind != "photo" || units(file.Text) > 1024 || len(file.Keyboard) != 1 {
		t.Errorf("Post = %d; photo %+v", id, file)
	}
	if rest.Method != "sendMessage" || rest.ReplyToMessageID != file.MessageID || rest.Keyboard != nil {
		t.Errorf("rest of the caption: %+v", rest)
	}
	if got := file.Text + " " + rest.Text; got != words {
		t.Errorf("caption and rest do not make the text: %q + %q", file.Text, rest.Text)
	}
}

func TestPostLongText(t *testing.T) {
	line := strings.Repeat("x", 99)
	tests := []struct {
		name      string
		text      string
		wantParts int
		joiner    string
	}{
		{"fits", strings.Repeat("a", 4096), 1, ""},
		{"lines", strings.TrimSuffix(strings.Repeat(line+"\n", 100), "\n"), 3, "\n"}, // 9999 characters
		// 2049 emoji are 4098 UTF-16 units: too long although only 2049 characters.
		{"emoji, no break", strings.Repeat("😀", 2049), 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := startSender(t)
			_, asked := srv.SendText(buyerChat, buyer, "details please")
			id, err := s.Post(context.Background(), buyerChat.ID, flows.Message{Text: tt.text, ReplyTo: asked.MessageID, Buttons: twoButtons})
			if err != nil {
				t.Fatal(err)
			}
			ms := srv.Messages(buyerChat.ID)
			if len(ms) != tt.wantParts {
				t.Fatalf("sent %d messages, want %d", len(ms), tt.wantParts)
			}
			if id != ms[0].MessageID || ms[0].ReplyToMessageID != asked.MessageID {
				t.Errorf("Post = %d; first part %+v", id, ms[0])
			}
			var parts []string
			for i, m := range ms {
				parts = append(parts, m.Text)
				if last := i == len(ms)-1; (m.Keyboard != nil) != last {
					t.Errorf("part %d of %d has keyboard %v", i+1, len(ms), m.Keyboard)
				}
				if i > 0 && m.ReplyToMessageID != 0 {
					t.Errorf("part %d replies to %d", i+1, m.ReplyToMessageID)
				}
			}
			if strings.Join(parts, tt.joiner) != tt.text {
				t.Error("the parts do not make the text")
			}
		})
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"fits", "hello", 5, []string{"hello"}},
		{"empty stays for Telegram to refuse", "", 5, []string{""}},
		{"at a line", "aaaaa\nbbbbbb", 8, []string{"aaaaa", "bbbbbb"}},
		{"at a line in the first half: hard cut", "aaaa\nbbbbbb", 8, []string{"aaaa\nbbb", "bbb"}},
		{"line break preferred to space", "aa bb\ncc dd", 8, []string{"aa bb", "cc dd"}},
		{"between words", "aaa bbb ccc", 8, []string{"aaa bbb", "ccc"}},
		{"early break is not worth a short part", "a bcdefghijk", 8, []string{"a bcdefg", "hijk"}},
		{"no break", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"surrogate pair kept whole", "ab😀cd", 3, []string{"ab", "😀c", "d"}},
		{"whitespace-only part dropped", "aaaa\n   \n\nbbbb", 4, []string{"aaaa", "bbbb"}},
		{"Cyrillic counts characters, not bytes", "возврат денег", 7, []string{"возврат", "денег"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitText(tt.text, tt.limit)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("splitText(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
			}
			for _, p := range got {
				if units(p) > tt.limit {
					t.Errorf("part %q is %d units", p, units(p))
				}
			}
		})
	}
}

func TestPostRetries(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		retry     int
		times     int
		wantErr   bool
		wantCalls int
	}{
		{"server errors", 500, 0, 2, false, 3},
		{"flood control waits retry_after", 429, 1, 1, false, 2},
		{"blocked by the user is final", 403, 0, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := startSender(t)
			srv.AddChat(buyerChat)
			srv.FailNext("sendMessage", tt.times, tt.code, tt.retry)
			begin := time.Now()
			id, err := s.Post(context.Background(), buyerChat.ID, flows.Message{Text: "hi"})
			if (err != nil) != tt.wantErr || (err == nil && id == 0) {
				t.Fatalf("Post = %d, %v", id, err)
			}
			if n := srv.Calls("sendMessage"); n != tt.wantCalls {
				t.Errorf("%d calls, want %d", n, tt.wantCalls)
			}
			if d := time.Since(begin); d < time.Duration(tt.retry)*time.Second {
				t.Errorf("retried after %v, before retry_after", d)
			}
		})
	}
}

func TestSendDeliversLikePost(t *testing.T) {
	srv, s := startSender(t)
	srv.AddChat(buyerChat)
	if err := s.Send(context.Background(), buyerChat.ID, flows.Message{Text: strings.Repeat("a ", 3000), Buttons: twoButtons}); err != nil {
		t.Fatal(err)
	}
	if ms := srv.Messages(buyerChat.ID); len(ms) != 2 || ms[0].Keyboard != nil || ms[1].Keyboard == nil {
		t.Errorf("Messages = %+v", ms)
	}
}
