package refund

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// buyerWords is the EscalationService's part that keeps what buyers tell
// the desk outside a held chat: messages while they wait in the queue,
// kept for the agent who takes the chat, and their rating of a closed one
// with a comment. The messages and the comment are the buyer's free text,
// so they are kept as data: bounded, cleaned of what only hides text,
// never interpreted.
type buyerWords struct{ escalationDeps }

// Bounds of the buyer's words kept with an escalation.
const (
	// MaxWaitingMessages is how many messages a queued buyer's chat keeps
	// for its agent; the buyer is told when there is no more room.
	MaxWaitingMessages = 20
	// MaxWaitingRunes bounds one kept message; a longer one is cut.
	MaxWaitingRunes = 1000
	// MaxRatingCommentRunes bounds a rating's comment.
	MaxRatingCommentRunes = 500
)

// cleanWords makes a buyer's free text safe to keep and to show an agent:
// valid UTF-8, without control characters other than line breaks and tabs
// (PostgreSQL refuses NUL) and without bidirectional overrides (which
// make a message read differently from what it says), trimmed.
func cleanWords(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	s = strings.Map(func(r rune) rune {
		if (unicode.IsControl(r) && r != '\n' && r != '\t') || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// cutRunes shortens s to at most n runes, the last one an ellipsis when
// it was cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// KeepWaiting keeps what a queued buyer wrote for the agent who takes the
// chat, cut to MaxWaitingRunes. kept is false when there is no room left
// (MaxWaitingMessages) or the chat is not queued any more.
func (s *buyerWords) KeepWaiting(ctx context.Context, id int64, text string) (bool, error) {
	text = cutRunes(cleanWords(text), MaxWaitingRunes)
	if text == "" {
		return false, FieldError("text", "nothing to keep")
	}
	kept, err := s.store.KeepWaiting(ctx, id, text, s.now().UTC(), MaxWaitingMessages)
	if err != nil {
		return false, fmt.Errorf("keep a waiting message of escalation %d: %w", id, err)
	}
	return kept, nil
}

// Waiting lists what the buyer wrote while queued, oldest first.
func (s *buyerWords) Waiting(ctx context.Context, id int64) ([]WaitingMessage, error) {
	ms, err := s.store.WaitingMessages(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("waiting messages of escalation %d: %w", id, err)
	}
	return ms, nil
}

// ClearWaiting forgets the kept messages through throughSeq, once they
// reached the agent.
func (s *buyerWords) ClearWaiting(ctx context.Context, id, throughSeq int64) error {
	if err := s.store.ClearWaiting(ctx, id, throughSeq); err != nil {
		return fmt.Errorf("clear waiting messages of escalation %d: %w", id, err)
	}
	return nil
}

// CheckRatingComment refuses a comment a store must not keep: empty, or
// longer than MaxRatingCommentRunes.
func CheckRatingComment(comment string) error {
	if n := utf8.RuneCountInString(comment); n == 0 || n > MaxRatingCommentRunes {
		return FieldError("comment", "a comment is 1 to %d characters", MaxRatingCommentRunes)
	}
	return nil
}

// Rate records the buyer's 1-5 for a closed escalation, once, in the
// case's history too.
func (s *buyerWords) Rate(ctx context.Context, id, buyerUserID int64, rating int) (Escalation, error) {
	e, err := s.store.Rate(ctx, id, buyerUserID, rating)
	if err != nil {
		return e, fmt.Errorf("rate escalation %d: %w", id, err)
	}
	if e.CaseID != 0 {
		if err := s.cases.logEvent(ctx, e.CaseID, ActorBuyer, EventRated, fmt.Sprintf("%d/5", rating)); err != nil {
			s.logger.ErrorContext(ctx, "log rating in the case log", "case", FormatCaseNumber(e.CaseID), "err", err)
		}
	}
	return e, nil
}

// CommentRating records the buyer's comment on a rated escalation, once,
// and puts it in the case's history as the note of an EventRatingComment.
// Empty words, or more than MaxRatingCommentRunes, are an EINVALID error.
func (s *buyerWords) CommentRating(ctx context.Context, id, buyerUserID int64, comment string) (Escalation, error) {
	comment = cleanWords(comment)
	if err := CheckRatingComment(comment); err != nil {
		return Escalation{}, err
	}
	e, err := s.store.CommentRating(ctx, id, buyerUserID, comment)
	if err != nil {
		return e, fmt.Errorf("comment on the rating of escalation %d: %w", id, err)
	}
	if e.CaseID != 0 {
		// The comment is stored with the escalation either way; the log
		// line names the case, never the buyer's words.
		if err := s.cases.logEvent(ctx, e.CaseID, ActorBuyer, EventRatingComment, comment); err != nil {
			s.logger.ErrorContext(ctx, "log rating comment in the case log", "case", FormatCaseNumber(e.CaseID), "err", err)
		}
	}
	return e, nil
}
