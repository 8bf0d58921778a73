package desk

import (
	"strconv"
	"testing"
)

// Fuzz tests of the card buttons, whose callback data a modified client can
// forge at will. Seeds are in testdata/fuzz/<FuzzName>; run one with
//
//	go test -run '^$' -fuzz '^FuzzDeskRoundTrip$' -fuzztime 60s ./flows/desk/

var deskActions = []string{deskTake, deskApprove, deskReject, deskInfo}

func isDeskAction(s string) bool {
	for _, a := range deskActions {
		if a == s {
			return true
		}
	}
	return false
}

// FuzzDeskRoundTrip: parseDeskData gives back the action and escalation
// ID of every card button deskData makes.
func FuzzDeskRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, action string, id int64) {
		data := deskData(action, id)
		a, got, ok := parseDeskData(data)
		if ok && (a != action || got != id) {
			t.Fatalf("parseDeskData(%q) = %q, %d; made from %q, %d", data, a, got, action, id)
		}
		if isDeskAction(action) && id > 0 && len(strconv.FormatInt(id, 10)) <= 18 && !ok {
			t.Fatalf("parseDeskData refuses the card button %q", data)
		}
	})
}

// FuzzParseDeskData feeds raw callback data to the card buttons' parser:
// whatever it accepts is what the bot itself would have written.
func FuzzParseDeskData(f *testing.F) {
	for _, seed := range []string{"a:take:1", "a:approve:123456789012345678", "a:take:+5", "a:info:-1",
		"a:take:0005", "a:reject:1:2", "m:refund", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		action, id, ok := parseDeskData(data)
		if !ok {
			return
		}
		if id <= 0 || !isDeskAction(action) {
			t.Fatalf("parseDeskData(%q) = %q, %d", data, action, id)
		}
		if a, again, ok := parseDeskData(deskData(action, id)); !ok || a != action || again != id {
			t.Fatalf("parseDeskData(%q) = %q, %d, which does not survive deskData", data, action, id)
		}
	})
}

// A stolen staff account's request for money must not reach the buyer,
// even dodged with invisible or full-width characters.
func TestStaffScamSurvivesDodges(t *testing.T) {
	for _, text := range []string{
		"请先交保\u200b证金", "请先转\u2060账给我们", "先付\u00ad款才能退", "ｐａｙ ｍｅ first", "请先交保证金",
		"请扫码缴纳手续费", "please transfer to this account",
	} {
		if !looksLikeStaffScam(text) {
			t.Errorf("looksLikeStaffScam(%q) = false: an agent's message would reach the buyer", text)
		}
	}
	for _, text := range []string{"您好，我是客服，正在核对您的订单", "退款已批准，预计1-3个工作日到账"} {
		if looksLikeStaffScam(text) {
			t.Errorf("looksLikeStaffScam(%q) = true: an agent's ordinary reply would be held back", text)
		}
	}
}
