package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

func (a *agent) say(text string) { a.e.fake.SendText(team, a.user, text) }

func (e *env) metricsText() string {
	e.t.Helper()
	resp, err := http.Get("http://" + e.bot.main.HTTPAddr() + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestAutoAssignNextAndRating: an online agent gets new chats up to the
// cap; past it a chat waits, and an agent pulls it with /next; a buyer
// rates the talk once it ends, once.
func TestAutoAssignNextAndRating(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017,9018:李四:K018",
		"DESK_AUTO_ASSIGN": "on", "DESK_AGENT_CAP": "1",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	li := &agent{e: e, user: telegramfake.User{ID: 9018, FirstName: "李四"}}
	seen := 0
	zhang.say("/online")
	e.teamExpect(&seen, "张三（K017）已上线")

	first := e.buyer(1601, "zh-hans")
	first.say("转人工")
	first.expect("张三（工号 K017）已接入")
	card := e.teamExpect(&seen, "已自动分配给 张三")

	second := e.buyer(1602, "zh-hans")
	second.say("人工客服")
	second.expect("您前面还有 0 位") // 张三 is at the cap, 李四 is offline
	li.say("/next")
	second.expect("李四（工号 K018）已接入")
	e.teamExpect(&seen, "由 李四（K018）接手")
	li.say("/next")
	e.teamExpect(&seen, "队列里没有等待的会话")

	zhang.reply(card, "/release")
	first.expect("已结束本次会话")
	ask := first.expect("请为客服 张三 的服务打分")
	if got := e.answer(first.press(ask, "5⭐")); !strings.Contains(got, "感谢您的评价（5 分）") {
		t.Fatalf("rating answered %q", got)
	}
	if got := e.answer(first.press(ask, "1⭐")); !strings.Contains(got, "已经评价过") {
		t.Fatalf("second rating answered %q, want it refused", got)
	}
	if m := e.metricsText(); !strings.Contains(m, `refundbot_desk_ratings_total{rating="5"} 1`) ||
		strings.Contains(m, `refundbot_desk_ratings_total{rating="1"} 1`) {
		t.Errorf("metrics:\n%s", grepLines(m, "ratings"))
	}
}

// TestOutsideDeskHoursTellsWhenItOpens: a buyer asking for a person when
// nobody works is told when the desk opens, and is queued all the same.
func TestOutsideDeskHoursTellsWhenItOpens(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// Open only on the weekday three days from now: closed today and
	// tomorrow, whatever the day of the test.
	opens := time.Now().In(shanghai).AddDate(0, 0, 3)
	day := opens.Weekday().String()[:3]
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017",
		"DESK_HOURS": day + " 09:00-10:00", "SHOP_TIMEZONE": "Asia/Shanghai",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	b := e.buyer(1603, "zh-hans")
	b.say("我要投诉")
	got := b.expect("现在不在人工客服工作时间")
	want := opens.Format("1月2日") + " 09:00起处理"
	if !strings.Contains(got.Text, want) {
		t.Errorf("outside-hours answer %q, want it to say %q", got.Text, want)
	}
	seen := 0
	e.teamExpect(&seen, "#") // queued for the agents all the same
}

// TestQueueBoardIsEditedInPlace: the team chat has one queue board,
// posted once and edited as chats queue and are taken.
func TestQueueBoardIsEditedInPlace(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017", "SWEEP_INTERVAL": "100ms",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	seen := 0
	board := e.teamExpect(&seen, "📋 客服队列：排队 0 · 处理中 0")
	for i := range 3 {
		b := e.buyer(int64(1610+i), "zh-hans")
		b.say("转人工")
		b.expect("您前面还有")
	}
	boardShows := func(want string) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for {
			for _, m := range e.fake.Messages(teamChatID) {
				if m.MessageID == board.MessageID && strings.Contains(m.Text, want) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the board never showed %q", want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	boardShows("排队 3 · 处理中 0")
	zhang.say("/next")
	boardShows("排队 2 · 处理中 1")
	boards := 0
	for _, m := range e.fake.Messages(teamChatID) {
		if strings.Contains(m.Text, "📋") {
			boards++
		}
	}
	if boards != 1 {
		t.Errorf("%d boards in the team chat, want the one edited in place", boards)
	}
	if edits := e.fake.Calls("editMessageText"); edits < 2 || edits > 10 {
		t.Errorf("%d edits of the board, want one per change (about 2), not one per sweep", edits)
	}
}
