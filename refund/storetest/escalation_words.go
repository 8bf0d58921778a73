package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// What buyers write to the desk outside a held chat: messages kept while
// queued, and a comment on a rating.

func testWaiting(t *testing.T, s AgentEscalationStore) {
	ctx := t.Context()
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	other := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	at := time.Date(2026, 11, 22, 18, 1, 0, 123456789, shanghai())
	const limit = 3

	keep := func(t *testing.T, id int64, text string, want bool) {
		t.Helper()
		kept, err := s.KeepWaiting(ctx, id, text, at, limit)
		if err != nil || kept != want {
			t.Fatalf("KeepWaiting(%d, %q) = %v, %v; want %v", id, text, kept, err, want)
		}
	}
	texts := func(t *testing.T, id int64) []string {
		t.Helper()
		ms, err := s.WaitingMessages(ctx, id)
		if err != nil {
			t.Fatalf("WaitingMessages(%d): %v", id, err)
		}
		var out []string
		for i, m := range ms {
			if i > 0 && m.Seq <= ms[i-1].Seq {
				t.Errorf("seqs %d then %d, want increasing", ms[i-1].Seq, m.Seq)
			}
			if !m.At.Equal(norm(at)) {
				t.Errorf("message at %v, want %v", m.At, norm(at))
			}
			wantUTC(t, "At", m.At)
			out = append(out, m.Text)
		}
		return out
	}

	keep(t, e.ID, "还在吗", true)
	keep(t, other.ID, "别人的", true)
	keep(t, e.ID, "卡密 ABCD-1234\n提示已被使用", true)
	keep(t, e.ID, "第三条", true)
	keep(t, e.ID, "没有位置了", false) // the limit
	if got := strings.Join(texts(t, e.ID), "|"); got != "还在吗|卡密 ABCD-1234\n提示已被使用|第三条" {
		t.Errorf("waiting messages %q, oldest first, want the three kept", got)
	}

	t.Run("cleared through a seq, the rest stays", func(t *testing.T) {
		ms, err := s.WaitingMessages(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ClearWaiting(ctx, e.ID, ms[1].Seq); err != nil {
			t.Fatalf("ClearWaiting: %v", err)
		}
		if got := strings.Join(texts(t, e.ID), "|"); got != "第三条" {
			t.Errorf("after clearing through the second: %q, want the third", got)
		}
		if got := strings.Join(texts(t, other.ID), "|"); got != "别人的" {
			t.Errorf("the other chat's messages: %q, want untouched", got)
		}
		keep(t, e.ID, "又有位置了", true)
	})
	t.Run("only while queued", func(t *testing.T) {
		mustTake(t, s, e.ID, agentID(1), desk0)
		keep(t, e.ID, "接手后", false)
		if _, err := s.Release(ctx, e.ID, agentID(1)); err != nil {
			t.Fatal(err)
		}
		keep(t, e.ID, "退回队列后", true)
	})
	t.Run("closing forgets them", func(t *testing.T) {
		mustClose(t, s, e.ID, desk0)
		if got := texts(t, e.ID); len(got) != 0 {
			t.Errorf("after close: %q, want none", got)
		}
		keep(t, e.ID, "关闭后", false)
		if got := strings.Join(texts(t, other.ID), "|"); got != "别人的" {
			t.Errorf("the other chat's messages: %q, want untouched", got)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		_, err := s.KeepWaiting(ctx, other.ID, "", at, limit)
		wantField(t, err, "text")
		_, err = s.KeepWaiting(ctx, other.ID, "x", time.Time{}, limit)
		wantField(t, err, "at")
		_, err = s.KeepWaiting(ctx, 999_999, "x", at, limit)
		wantCode(t, err, refund.ENOTFOUND)
	})
}

func testConcurrentKeepWaiting(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	const n, limit = 12, 5
	kept := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) { kept[i], errs[i] = s.KeepWaiting(t.Context(), e.ID, "一条", desk0, limit) })
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("keep %d: %v", i, errs[i])
		}
		if kept[i] {
			total++
		}
	}
	ms, err := s.WaitingMessages(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if total != limit || len(ms) != limit {
		t.Errorf("%d keeps reported, %d messages kept; want %d of each", total, len(ms), limit)
	}
}

func testCommentRating(t *testing.T, s AgentEscalationStore) {
	ctx := t.Context()
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	_, err := s.CommentRating(ctx, e.ID, buyerChat, "还没评分")
	wantCode(t, err, refund.EINVALID)
	mustClose(t, s, e.ID, desk0)
	_, err = s.CommentRating(ctx, e.ID, buyerChat, "还没评分")
	wantCode(t, err, refund.EINVALID)
	if _, err := s.Rate(ctx, e.ID, buyerChat, 2); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("慢", refund.MaxRatingCommentRunes)
	steps := []struct {
		name    string
		buyer   int64
		comment string
		code    string
	}{
		{"someone else's", buyerChat + 1, "不是我的", refund.ENOTFOUND},
		{"empty", buyerChat, "", refund.EINVALID},
		{"too long", buyerChat, long + "!", refund.EINVALID},
		{"at the limit, by the rater", buyerChat, long, ""},
		{"a second one", buyerChat, "再说一句", refund.ECONFLICT},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := s.CommentRating(ctx, e.ID, st.buyer, st.comment)
			wantCode(t, err, st.code)
			if st.code == "" && (got.RatingComment != long || got.Rating != 2) {
				t.Errorf("CommentRating returned rating %d and a comment of %d bytes, want 2 with the comment",
					got.Rating, len(got.RatingComment))
			}
			wantComment := ""
			if st.code == "" || st.code == refund.ECONFLICT {
				wantComment = long
			}
			if stored := mustEscalation(t, s, e.ID); stored.RatingComment != wantComment {
				t.Errorf("stored comment of %d bytes, want %d", len(stored.RatingComment), len(wantComment))
			}
		})
	}
	_, err = s.CommentRating(ctx, 999_999, buyerChat, "x")
	wantCode(t, err, refund.ENOTFOUND)
}
