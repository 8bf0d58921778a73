package buyer

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// commentWindow is how long the dialog waits for a comment on a rating:
// past it, the buyer's next words are about something else.
const commentWindow = 10 * time.Minute

// comment is the short step after a buyer rated a talk with an agent:
// their next text, if it comes soon and is plain words (not a command, a
// button, a file, or a call for a person), is their comment on the
// rating. Anything else ends the step and is handled as it would be.
type comment struct{ *turn }

// comment is the turn in the comment step.
func (t *turn) comment() comment { return comment{t} }

// ask asks for a comment on the rating the buyer just gave escalation
// id, with a button to skip it. A buyer in the middle of a request is not
// asked: their next words belong to their step.
func (t comment) ask(ctx context.Context, id int64) error {
	if !can(t.Sess.State, EventAskComment) {
		return nil
	}
	if err := t.move(ctx, EventAskComment); err != nil {
		return err
	}
	t.Sess.CommentOn = id
	t.Say(locales.RateCommentAsk, map[string]any{"Minutes": int(commentWindow.Minutes()),
		"Max": refund.MaxRatingCommentRunes}, []flows.Button{t.keys().button(locales.BtnSkip, actSkipComment)})
	return nil
}

// awaited reports whether the input is what the comment step waits for:
// plain words within the window, or its own skip button.
func (t comment) awaited() bool {
	if t.d.cfg.Now().Sub(t.Sess.UpdatedAt) > commentWindow {
		return false
	}
	in := t.In
	if cb := in.Callback; cb != nil {
		p, ok := parseButton(cb.Data)
		return ok && !p.menu && p.nonce == t.Sess.Nonce && p.action == actSkipComment
	}
	return in.Chat == flows.ChatPrivate && in.Command == "" && in.Forward == nil && len(in.Files) == 0 &&
		in.Unsupported == "" && strings.TrimSpace(in.Text) != "" && !asksForPerson(in.Text)
}

// end leaves the step without a comment.
func (t comment) end(ctx context.Context) error {
	t.Sess.CommentOn = 0
	return t.move(ctx, EventCommentDone)
}

// given takes the buyer's words as their comment. Words too long to keep
// are refused with the limit, and the step waits for shorter ones.
func (t comment) given(ctx context.Context, text string) error {
	if utf8.RuneCountInString(text) > refund.MaxRatingCommentRunes {
		t.Say(locales.RateCommentTooLong, map[string]any{"Max": refund.MaxRatingCommentRunes},
			[]flows.Button{t.keys().button(locales.BtnSkip, actSkipComment)})
		return nil
	}
	done, err := t.d.cfg.Desk.Comment(ctx, t.Turn, t.Sess.CommentOn, text)
	if err != nil || !done {
		return err
	}
	return t.end(ctx)
}

// skip is the skip button.
func (t comment) skip(ctx context.Context) error {
	t.Answer = t.Text(locales.RateCommentSkipped, nil)
	return t.end(ctx)
}
