package refund

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The buyer's answers to a case that asks for them: more evidence for a
// case that needs information, and an appeal of a rejection. Choosing
// where the money goes is in payout.go.

// AddEvidence adds a buyer's files to a case waiting for them and reviews
// it again.
func (s *Service) AddEvidence(ctx context.Context, caseID, buyer int64, files []Evidence) (Case, error) {
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusNeedsInfo {
		return Case{}, Errorf(ECONFLICT, "case %s is %s, not waiting for evidence", c.Number(), c.Status)
	}
	fresh := newFiles(c.Evidence, files)
	if len(fresh) == 0 {
		return Case{}, FieldError("evidence", "no new files")
	}
	if len(c.Evidence)+len(fresh) > MaxEvidence {
		return Case{}, FieldError("evidence", "at most %d files", MaxEvidence)
	}
	p := s.plan(c, o, ActorBuyer)
	p.ch.Evidence = fresh
	p.note(EventEvidenceAdded, EventDraft{Note: fmt.Sprintf("%d", len(fresh))})
	if err := p.move(CaseInfoAdded, EventDraft{}); err != nil {
		return Case{}, err
	}
	if err := p.autoReview(ctx, len(c.Evidence)+len(fresh)); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// newFiles drops files the case already has, and repeats.
func newFiles(have, add []Evidence) []Evidence {
	seen := make(map[string]bool)
	for _, e := range have {
		seen[e.FileUniqueID] = true
	}
	var out []Evidence
	for _, e := range add {
		if !seen[e.FileUniqueID] {
			seen[e.FileUniqueID] = true
			out = append(out, e)
		}
	}
	return out
}

// Appeal contests a refusal, once, within the appeal window, with words,
// files or both. A human reviews it.
func (s *Service) Appeal(ctx context.Context, caseID, buyer int64, words string, files []Evidence) (Case, error) {
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	words = strings.TrimSpace(words)
	fresh := newFiles(c.Evidence, files)
	switch {
	case c.Status != StatusRejected:
		return Case{}, Errorf(ECONFLICT, "case %s is %s; only a refusal can be appealed", c.Number(), c.Status)
	case c.Appeals > 0:
		return Case{}, Errorf(ECONFLICT, "case %s was already appealed", c.Number())
	case c.Due.Kind != DueAppeal || s.now().After(c.Due.At):
		return Case{}, Errorf(ECONFLICT, "the appeal window of case %s has closed", c.Number())
	case words == "" && len(fresh) == 0:
		return Case{}, FieldError("appeal", "an appeal needs new words or new files")
	case utf8.RuneCountInString(words) > MaxStatementRunes:
		return Case{}, FieldError("appeal", "at most %d characters", MaxStatementRunes)
	case len(c.Evidence)+len(fresh) > MaxEvidence:
		return Case{}, FieldError("evidence", "at most %d files", MaxEvidence)
	}
	p := s.plan(c, o, ActorBuyer)
	p.ch.Appeal, p.ch.Evidence = true, fresh
	if err := p.move(CaseAppeal, EventDraft{Note: words}); err != nil {
		return Case{}, err
	}
	if err := p.move(CaseEscalate, EventDraft{}); err != nil {
		return Case{}, err
	}
	p.escalated()
	return p.apply(ctx)
}
