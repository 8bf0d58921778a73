package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// shopGet reads the shop API as the shop would.
func (e *env) shopGet(t *testing.T, path string, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.httpAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+shopToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// messageShows waits until the bot's message id in chat contains want,
// and returns it as it is then.
func (e *env) messageShows(chat int64, id int, want string) telegramfake.SentMessage {
	e.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		for _, m := range e.fake.Messages(chat) {
			if m.MessageID == id && strings.Contains(m.Text, want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("message %d in chat %d never showed %q", id, chat, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQueuedBuyersPlaceIsEditedInPlace: two buyers wait; when the first
// is taken, the second's place message is edited from one ahead to none,
// not followed by a new message. Without any history of waits there is no
// estimate to give, and none is made up.
func TestQueuedBuyersPlaceIsEditedInPlace(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017", "SWEEP_INTERVAL": "100ms",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	seen := 0
	first, second := e.buyer(1701, "zh-hans"), e.buyer(1702, "zh-hans")
	first.say("转人工")
	first.expect("您前面还有 0 位")
	card := e.teamExpect(&seen, "买家要求人工")
	second.say("人工客服")
	place := second.expect("您前面还有 1 位")
	if strings.Contains(place.Text, "预计等待") {
		t.Errorf("place %q gives an estimate with no history to make it from", place.Text)
	}
	e.teamExpect(&seen, "买家要求人工")

	zhang.press(card, "接手")
	first.expect("张三（工号 K017）已接入")
	edited := e.messageShows(second.chat.ID, place.MessageID, "您前面还有 0 位")
	if edited.Edits != 1 {
		t.Errorf("place message edited %d times, want once", edited.Edits)
	}
	// A few sweeps more change nothing: the text is what it should be.
	time.Sleep(300 * time.Millisecond)
	places := 0
	for _, m := range e.fake.Messages(second.chat.ID) {
		if strings.Contains(m.Text, "您前面还有") {
			places++
		}
		if m.MessageID == place.MessageID && m.Edits != 1 {
			t.Errorf("place message edited %d times after more sweeps, want once", m.Edits)
		}
	}
	if places != 1 {
		t.Errorf("%d place messages in the second buyer's chat, want the one edited in place", places)
	}
}

// TestQueuedBuyersWordsReachTheAgentWhoTakesTheChat: a queued buyer who
// keeps writing is told each time that it is kept, and the agent who takes
// the chat gets all of it in one message under the card, before anything
// the buyer says once held; nothing is handed on twice.
func TestQueuedBuyersWordsReachTheAgentWhoTakesTheChat(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	seen := 0
	b := e.buyer(1711, "zh-hans")
	b.say("转人工")
	b.expect("您前面还有 0 位")
	card := e.teamExpect(&seen, "买家要求人工")
	for _, words := range []string{"我的卡密是 ABCD-1234，提示已被使用", "还在吗？怎么还没处理"} {
		b.say(words)
		b.expect("已记下您的留言")
	}
	if got := e.fake.Messages(teamChatID); strings.Contains(got[len(got)-1].Text, "ABCD-1234") {
		t.Fatal("a queued buyer's words reached the team before anyone took the chat")
	}

	zhang.press(card, "接手")
	b.expect("张三（工号 K017）已接入")
	batch := e.teamExpect(&seen, "买家排队期间的留言（2 条）")
	if !strings.Contains(batch.Text, "我的卡密是 ABCD-1234，提示已被使用") || !strings.Contains(batch.Text, "还在吗？怎么还没处理") ||
		strings.Index(batch.Text, "ABCD-1234") > strings.Index(batch.Text, "还在吗") {
		t.Errorf("batch = %q, want both messages, oldest first", batch.Text)
	}
	if batch.ReplyToMessageID != card.MessageID {
		t.Errorf("batch not under the card: %+v", batch)
	}
	zhang.reply(card, "收到，我看一下")
	b.expect("收到，我看一下")

	// Once held, the buyer's words are relayed as they come, and the
	// batch is not handed on again after a release and a new take.
	b.say("好的谢谢")
	e.teamExpect(&seen, "好的谢谢")
	for _, m := range e.fake.Messages(teamChatID) {
		if strings.Count(m.Text, "买家排队期间的留言") > 0 && m.MessageID != batch.MessageID {
			t.Errorf("the waiting messages were handed on twice: %q", m.Text)
		}
	}
}

// TestRatingCommentReachesTheCaseLogAndTheShopAPI: after the talk ends
// the buyer rates it and adds a comment, which the shop reads with the
// rating in the case's history; a second buyer skips the comment, and a
// command after a rating is a command, not a comment.
func TestRatingCommentReachesTheCaseLogAndTheShopAPI(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	b := e.buyer(1721, "zh-hans")
	number := escalatedCase(t, e, b, "KM20261123721")
	seen := 0
	card := e.teamExpect(&seen, number)
	zhang.press(card, "接手")
	b.expect("已接入")
	zhang.reply(card, "/release")
	ask := b.expect("请为客服 张三 的服务打分")
	if got := e.answer(b.press(ask, "4⭐")); !strings.Contains(got, "感谢您的评价（4 分）") {
		t.Fatalf("rating answered %q", got)
	}
	b.expect("想补充几句吗")
	b.say(strings.Repeat("长", 501))
	b.expect("意见最多 500 字")
	b.say("客服很耐心，\n就是等得有点久")
	b.expect("已收到您的意见")
	// The comment step is over: the next words are the dialog's again.
	b.say("谢谢")
	b.expect("我可以帮您申请退款或查询进度")

	var view struct {
		Events []struct {
			Kind, Actor, Note string
			Internal          bool
		} `json:"events"`
	}
	e.shopGet(t, "/api/v1/cases/"+number, &view)
	var got []string
	for _, ev := range view.Events {
		if ev.Kind == "rated" || ev.Kind == "rating_comment" {
			got = append(got, fmt.Sprintf("%s %s %q internal=%v", ev.Kind, ev.Actor, ev.Note, ev.Internal))
		}
	}
	want := []string{`rated buyer "4/5" internal=false`, `rating_comment buyer "客服很耐心，\n就是等得有点久" internal=false`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the case's history in the shop API: %q, want %q", got, want)
	}
	b.say("/status " + number)
	if status := b.expect(number); strings.Contains(status.Text, "就是等得有点久") {
		t.Errorf("the status view shows the buyer's comment back: %q", status.Text)
	}

	// Another buyer skips; a third sends a command, which ends the step.
	for i, how := range []string{"skip", "command"} {
		c := e.buyer(int64(1722+i), "zh-hans")
		c.say("转人工")
		c.expect("您前面还有 0 位")
		card := e.teamExpect(&seen, "买家要求人工")
		zhang.press(card, "接手")
		c.expect("已接入")
		zhang.reply(card, "/release")
		e.answer(c.press(c.expect("打分"), "5⭐"))
		prompt := c.expect("想补充几句吗")
		switch how {
		case "skip":
			if got := e.answer(c.press(prompt, "跳过")); !strings.Contains(got, "感谢您的评价") {
				t.Errorf("skip answered %q", got)
			}
		case "command":
			c.say("/help")
			c.expect("/refund")
		}
		c.say("随便说说")
		c.expect("我可以帮您申请退款或查询进度")
	}
}
