package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// TestFloodIsThrottledWithOneNotice: one buyer sends 500 messages at once
// (a script, or a stuck key): the bot handles the first FLOOD_LIMIT, tells
// the buyer once that it stopped reading, drops the rest unread, and a
// buyer writing meanwhile is answered as usual. The flood shows in the
// metrics.
func TestFloodIsThrottledWithOneNotice(t *testing.T) {
	e := newEnvWith(t, map[string]string{"FLOOD_LIMIT": "40"})
	flooder := e.buyer(8101, "en")
	calm := e.buyer(8102, "en")
	for i := range 500 {
		flooder.say(fmt.Sprintf("/status KM%08d", i))
		if i == 250 {
			calm.say("/start")
		}
	}
	calm.expect("Hello")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := e.fake.WaitFor(ctx, func(s *telegramfake.Server) bool { return s.Pending() == 0 }); err != nil {
		t.Fatalf("the bot did not take all 500 updates: %d pending", e.fake.Pending())
	}
	flooder.expect("sending messages too fast")
	flooder.quiet()
	var answered, notices int
	for _, m := range e.fake.Messages(flooder.chat.ID) {
		switch {
		case strings.Contains(m.Text, "sending messages too fast"):
			notices++
		case strings.Contains(m.Text, "KM0000") || strings.Contains(m.Text, "KM000"):
			answered++
		}
	}
	if answered != 40 || notices != 1 {
		t.Logf("first answer: %q", e.fake.Messages(flooder.chat.ID)[0].Text)
		t.Fatalf("flood of 500: %d answered and %d notices; want the limit of 40 answered and one notice", answered, notices)
	}
	resp, err := http.Get("http://" + e.bot.main.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "refundbot_buyer_floods_total 1") {
		t.Fatalf("metrics do not count the flood:\n%s", grepLines(string(body), "flood"))
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
