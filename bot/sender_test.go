package bot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

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
	forumChat = telegramfake.Chat{ID: -100888, Type: "supergroup", Title: "Refund desk", IsForum: true}
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
	s := NewSender(api, nil, SenderOptions{})
	s.backoff = time.Millisecond
	return srv, s
}

func units(s string) int { return len(utf16.Encode([]rune(s))) }

var twoButtons = [][]flows.Button{{{Text: "Take", Data: "desk:take:1"}, {Text: "Policy", URL: "https://example.com/p"}}}

func TestPostReplies(t *testing.T) {
	srv, api := startFake(t)
	s := NewSender(api, nil, SenderOptions{})
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

// openTopic starts a Sender on a fake whose forum has one topic.
func openTopic(t *testing.T) (*telegramfake.Server, *Sender, int) {
	t.Helper()
	srv, s := startSender(t)
	srv.AddChat(forumChat)
	thread, err := s.CreateTopic(context.Background(), forumChat.ID, "#1 R-000001")
	if err != nil {
		t.Fatal(err)
	}
	return srv, s, thread
}

func TestPostInTopic(t *testing.T) {
	srv, s, thread := openTopic(t)
	ctx := context.Background()
	card, err := s.Post(ctx, forumChat.ID, flows.Message{Text: "Case R-1", ThreadID: thread})
	if err != nil {
		t.Fatal(err)
	}
	_, photo := srv.SendPhoto(buyerChat, buyer, []byte("jpeg bytes"), "", "")
	big := photo.Photo[len(photo.Photo)-1]
	doc := srv.AddFile([]byte("%PDF-1.4"), "receipt.pdf")
	longCaption := strings.TrimSpace(strings.Repeat("refund ", 300))

	photoFile := &refund.Evidence{Kind: refund.EvidencePhoto, FileID: big.FileID}
	tests := []struct {
		name          string
		msg           flows.Message
		wantMethods   []string // of the messages sent, in order
		wantKeyboards []bool
		wantReplyTo   int // the first message's
	}{
		{"text with buttons", flows.Message{Text: "hello", Buttons: twoButtons}, []string{"sendMessage"}, []bool{true}, 0},
		{"reply", flows.Message{Text: "re", ReplyTo: card}, []string{"sendMessage"}, []bool{false}, card},
		{"long text", flows.Message{Text: strings.Repeat("a ", 3000), ReplyTo: card, Buttons: twoButtons},
			[]string{"sendMessage", "sendMessage"}, []bool{false, true}, card},
		{"photo", flows.Message{Text: "From Bo", File: photoFile, ReplyTo: card, Buttons: twoButtons}, []string{"sendPhoto"}, []bool{true}, card},
		{"document", flows.Message{File: &refund.Evidence{Kind: refund.EvidenceDocument, FileID: doc.FileID}}, []string{"sendDocument"}, []bool{false}, 0},
		{"photo with a long caption", flows.Message{Text: longCaption, File: photoFile, Buttons: twoButtons},
			[]string{"sendPhoto", "sendMessage"}, []bool{true, false}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Messages(forumChat.ID))
			m := tt.msg
			m.ThreadID = thread
			id, err := s.Post(ctx, forumChat.ID, m)
			if err != nil {
				t.Fatal(err)
			}
			sent := srv.Messages(forumChat.ID)[before:]
			if len(sent) != len(tt.wantMethods) {
				t.Fatalf("sent %+v", sent)
			}
			if sent[0].MessageID != id || sent[0].ReplyToMessageID != tt.wantReplyTo {
				t.Errorf("Post = %d; first %+v", id, sent[0])
			}
			for i, m := range sent {
				if m.ThreadID != thread || m.Method != tt.wantMethods[i] || (m.Keyboard != nil) != tt.wantKeyboards[i] {
					t.Errorf("part %d: %+v, want %s in topic %d, keyboard %v", i+1, m, tt.wantMethods[i], thread, tt.wantKeyboards[i])
				}
			}
		})
	}
	t.Run("no thread in a forum goes to General", func(t *testing.T) {
		id, err := s.Post(ctx, forumChat.ID, flows.Message{Text: "all"})
		ms := srv.Messages(forumChat.ID)
		if err != nil || ms[len(ms)-1].MessageID != id || ms[len(ms)-1].ThreadID != 0 {
			t.Errorf("Post = %d, %v; sent %+v", id, err, ms[len(ms)-1])
		}
	})
	t.Run("flood control", func(t *testing.T) {
		srv.FailNext("sendPhoto", 1, 429, 1)
		calls := srv.Calls("sendPhoto")
		id, err := s.Post(ctx, forumChat.ID, flows.Message{ThreadID: thread, File: &refund.Evidence{Kind: refund.EvidencePhoto, FileID: big.FileID}})
		ms := srv.Messages(forumChat.ID)
		if err != nil || srv.Calls("sendPhoto")-calls != 2 || ms[len(ms)-1].MessageID != id || ms[len(ms)-1].ThreadID != thread {
			t.Errorf("Post = %d, %v after %d calls", id, err, srv.Calls("sendPhoto")-calls)
		}
	})
}

func TestPostInUnknownTopic(t *testing.T) {
	srv, s, thread := openTopic(t)
	srv.AddChat(teamChat)
	tests := []struct {
		name   string
		chatID int64
		msg    flows.Message
		method string
	}{
		{"text", forumChat.ID, flows.Message{Text: "x", ThreadID: thread + 100}, "sendMessage"},
		{"document", forumChat.ID, flows.Message{ThreadID: thread + 100, File: &refund.Evidence{Kind: refund.EvidenceDocument, FileID: srv.AddFile([]byte("x"), "x.txt").FileID}}, "sendDocument"},
		{"a topic of another chat", teamChat.ID, flows.Message{Text: "x", ThreadID: thread}, "sendMessage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := srv.Calls(tt.method)
			_, err := s.Post(context.Background(), tt.chatID, tt.msg)
			var tgErr *tgbotapi.Error
			if !errors.As(err, &tgErr) || tgErr.Message != "Bad Request: message thread not found" || Transient(err) {
				t.Errorf("err = %v", err)
			}
			if n := srv.Calls(tt.method) - calls; n != 1 {
				t.Errorf("%d calls, want 1: a 400 is final", n)
			}
		})
	}
}

func TestCreateTopic(t *testing.T) {
	long := strings.Repeat("退款😀", 100) // 200 characters, 300 UTF-16 units
	tests := []struct {
		name      string
		chat      telegramfake.Chat
		topic     string
		fail      int // 429s before it goes through
		wantName  string
		wantErr   string
		transient bool
	}{
		{"forum", forumChat, "#1 R-000001 damaged", 0, "#1 R-000001 damaged", "", false},
		{"long name", forumChat, long, 0, string([]rune(long)[:128]), "", false},
		{"flood control", forumChat, "#2", 1, "#2", "", false},
		{"no forum", teamChat, "#3", 0, "", "Bad Request: the chat is not a forum", false},
		{"blank name", forumChat, " \n ", 0, "", "Bad Request: title must be non-empty", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := startSender(t)
			srv.AddChat(forumChat)
			srv.FailNext("createForumTopic", tt.fail, 429, 1)
			thread, err := s.CreateTopic(context.Background(), tt.chat.ID, tt.topic)
			if tt.wantErr != "" {
				var tgErr *tgbotapi.Error
				if !errors.As(err, &tgErr) || tgErr.Message != tt.wantErr || Transient(err) != tt.transient {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []telegramfake.Topic{{ChatID: forumChat.ID, ThreadID: thread, Name: tt.wantName, IconColor: 0x6FB9F0}}
			if got := srv.Topics(forumChat.ID); !reflect.DeepEqual(got, want) {
				t.Errorf("Topics = %+v, want %+v", got, want)
			}
			if n := srv.Calls("createForumTopic"); n != tt.fail+1 {
				t.Errorf("%d calls, want %d", n, tt.fail+1)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		srv, s := startSender(t)
		srv.AddChat(forumChat)
		srv.FailNext("createForumTopic", 1, 500, 0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.CreateTopic(ctx, forumChat.ID, "x"); !errors.Is(err, context.Canceled) || Transient(err) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestTopicName(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "#1 R-000001", "#1 R-000001"},
		{"exactly 128", strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{"129 emoji", strings.Repeat("😀", 129), strings.Repeat("😀", 128)},
		{"Chinese", strings.Repeat("退", 200), strings.Repeat("退", 128)},
		{"space at the cut", strings.Repeat("a", 127) + " b", strings.Repeat("a", 127)},
		{"surrounding space", "  #1  ", "#1"},
		{"invalid UTF-8", "R-1 \xff\xfe", "R-1 \uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := topicName(tt.in)
			if got != tt.want || !utf8.ValidString(got) || utf8.RuneCountInString(got) > 128 {
				t.Errorf("topicName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsForum(t *testing.T) {
	srv, err := telegramfake.Start(fakeToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	conn, err := Connect(fakeToken, srv.Endpoint(), 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	srv.AddChat(forumChat)
	srv.AddChat(teamChat)
	srv.AddChat(buyerChat)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		chatID  int64
		want    bool
		wantErr string
	}{
		{"forum", context.Background(), forumChat.ID, true, ""},
		{"supergroup", context.Background(), teamChat.ID, false, ""},
		{"private chat", context.Background(), buyerChat.ID, false, ""},
		{"unknown chat", context.Background(), -1001, false, "Bad Request: chat not found"},
		{"cancelled", cancelled, forumChat.ID, false, context.Canceled.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := conn.IsForum(tt.ctx, tt.chatID)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || Transient(err) {
					t.Errorf("IsForum = %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("IsForum = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if n := srv.Calls("getChat"); n != 4 {
		t.Errorf("%d getChat calls, want 4: none once ctx is done", n)
	}
}

// TestCallbackAndKeyboard covers the calls that create no message, sent
// as raw parameters like the rest.
func TestCallbackAndKeyboard(t *testing.T) {
	srv, s := startSender(t)
	srv.AddChat(buyerChat)
	ctx := context.Background()
	id, err := s.Post(ctx, buyerChat.ID, flows.Message{Text: "Refund?", Buttons: twoButtons})
	if err != nil {
		t.Fatal(err)
	}
	_, q := srv.PressButton(buyerChat, buyer, id, "desk:take:1")
	if err := s.AnswerCallback(ctx, q, "Taken"); err != nil {
		t.Fatal(err)
	}
	if got := srv.CallbackAnswers(); len(got) != 1 || got[0].CallbackQueryID != q || got[0].Text != "Taken" {
		t.Errorf("CallbackAnswers = %+v", got)
	}
	for i := range 2 { // the second finds no buttons left, which is success
		if err := s.RemoveKeyboard(ctx, buyerChat.ID, id); err != nil {
			t.Fatalf("RemoveKeyboard #%d: %v", i+1, err)
		}
	}
	if ms := srv.Messages(buyerChat.ID); ms[0].Keyboard != nil || ms[0].Edits != 1 {
		t.Errorf("message = %+v", ms[0])
	}
}

// TestMakeRequest checks the context-free tgbotapi call made to end with
// ctx: it returns at once when ctx ends, while the abandoned request
// finishes on its own and is still observed; and calls one after another
// run on one kept goroutine.
func TestMakeRequest(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slowCall") {
			<-release
		}
		_, _ = w.Write([]byte(`{"ok":true,"result":true}`))
	}))
	t.Cleanup(srv.Close)
	api := &tgbotapi.BotAPI{Token: fakeToken, Client: srv.Client()}
	api.SetAPIEndpoint(srv.URL + "/bot%s/%s")
	calls := flows.NewWorkers(time.Minute, 64)
	t.Cleanup(calls.Close)
	// Cleanups run last first: a slow call still waiting is let go before
	// Close waits for it and srv.Close for its handler.
	t.Cleanup(func() { close(release) })

	type observed struct {
		method    string
		err       error
		goroutine int
	}
	seen := make(chan observed, 10)
	observe := func(method string, err error) { seen <- observed{method, err, goroutineID(t)} }

	t.Run("answers", func(t *testing.T) {
		var goroutines []int
		for range 3 {
			resp, err := makeRequest(context.Background(), calls, api, "fastCall", tgbotapi.Params{}, observe)
			if err != nil || !resp.Ok {
				t.Fatalf("makeRequest = %+v, %v", resp, err)
			}
			o := <-seen
			if o.method != "fastCall" || o.err != nil {
				t.Errorf("observed %+v, want fastCall without error", o)
			}
			goroutines = append(goroutines, o.goroutine)
			time.Sleep(20 * time.Millisecond) // for the goroutine to go idle, as between sends
		}
		if goroutines[1] != goroutines[0] || goroutines[2] != goroutines[0] {
			t.Errorf("calls one after another ran on goroutines %v, want one kept goroutine", goroutines)
		}
	})

	t.Run("ctx ends first", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := makeRequest(ctx, calls, api, "slowCall", tgbotapi.Params{}, observe)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("makeRequest = %v, want the context's end", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("makeRequest returned after %v, not when ctx ended", took)
		}
		select {
		case o := <-seen:
			t.Fatalf("observed %+v before the request ended", o)
		default:
		}
		release <- struct{}{} // the abandoned request finishes on its own
		select {
		case o := <-seen:
			if o.method != "slowCall" || o.err != nil {
				t.Errorf("observed %+v, want slowCall without error", o)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the abandoned request was not observed")
		}
	})
}

// TestSendReadsTheMessageID checks what send takes from Telegram's answer:
// the sent message's ID, and an error, not retried, when the answer names
// none, since the message is out and a retry would repeat it.
func TestSendReadsTheMessageID(t *testing.T) {
	tests := []struct {
		name   string
		result string
		want   int
	}{
		{"a whole message", `{"message_id":42,"from":{"id":1,"is_bot":true},"chat":{"id":501,"type":"private"},"date":1,"text":"hi",` +
			`"reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]},"message_thread_id":3}`, 42},
		{"only the ID", `{"message_id":7}`, 7},
		{"no ID", `{"chat":{"id":501,"type":"private"},"text":"hi"}`, 0},
		{"a zero ID", `{"message_id":0}`, 0},
		{"an ID that is no number", `{"message_id":"42"}`, 0},
		{"not a message", `true`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				_, _ = w.Write([]byte(`{"ok":true,"result":` + tt.result + `}`))
			}))
			t.Cleanup(srv.Close)
			api := &tgbotapi.BotAPI{Token: fakeToken, Client: srv.Client()}
			api.SetAPIEndpoint(srv.URL + "/bot%s/%s")
			s := NewSender(api, nil, SenderOptions{})
			s.backoff = time.Millisecond

			got, err := s.send(context.Background(), "sendMessage", tgbotapi.Params{"chat_id": "501", "text": "hi"})
			if tt.want != 0 {
				if err != nil || got != tt.want {
					t.Errorf("send = %d, %v, want %d", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, errUnreadable) || Transient(err) || got != 0 {
				t.Errorf("send = %d, %v, want 0 and an unreadable answer, not transient", got, err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d calls, want 1: a message that is out must not be sent again", n)
			}
		})
	}
}
