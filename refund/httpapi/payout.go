package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/refundbot/refundbot/refund"
)

// PayoutSettler records the shop's answer about a payout; refund.Service
// implements it. Answering the same way twice must return the payout
// unchanged, because a shop retries a confirmation it never saw
// acknowledged; contradicting a settled payout is an ECONFLICT error.
type PayoutSettler interface {
	SettlePayout(ctx context.Context, s refund.Settlement) (refund.Payout, error)
}

// MaxReasonLength bounds, in characters, the reason a shop gives for a
// failed payout; the buyer is shown it in a Telegram message.
const MaxReasonLength = 500

// maxSettlementBytes bounds a settlement body: a reason of
// MaxReasonLength characters, each escaped as \uXXXX, fits with room to
// spare.
const maxSettlementBytes = 8 << 10

// maxPayoutIDLength bounds a payout ID in a URL; refundbot's IDs are far
// shorter.
const maxPayoutIDLength = 64

// payoutJSON is the wire shape of a payout. The amount is a string so that
// no float touches money; settled_at is null while the payout is pending.
type payoutJSON struct {
	ID        string  `json:"id"`
	Case      string  `json:"case"`
	OrderID   string  `json:"order_id"`
	Status    string  `json:"status"`
	Amount    string  `json:"amount"`
	Currency  string  `json:"currency"`
	Route     string  `json:"route"`
	SettledAt *string `json:"settled_at"`
}

func encodePayout(p refund.Payout) ([]byte, error) {
	w := payoutJSON{
		ID:       p.ID,
		Case:     refund.FormatCaseNumber(p.CaseID),
		OrderID:  p.OrderID,
		Status:   string(p.Status),
		Amount:   p.Amount.String(),
		Currency: p.Currency,
		Route:    string(p.Route),
	}
	if !p.SettledAt.IsZero() {
		s := p.SettledAt.UTC().Format(time.RFC3339Nano)
		w.SettledAt = &s
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode payout %q: %w", p.ID, err)
	}
	return b, nil
}

// handleSettle answers the confirm (ok) or fail route of a payout.
func (s *server) handleSettle(ok bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, readOK := s.readJSONBody(w, r, maxSettlementBytes)
		if !readOK {
			return
		}
		id := r.PathValue("id")
		if !validPayoutID(id) {
			s.writeError(w, r, 0, refund.FieldError("id", "the payout id in the URL must be 1-%d letters, digits, '-', '_', '.' or ':'", maxPayoutIDLength))
			return
		}
		st, err := decodeSettlement(id, ok, body)
		if err != nil {
			s.writeError(w, r, 0, err)
			return
		}
		p, err := s.payouts.SettlePayout(r.Context(), st)
		if err != nil {
			s.writeError(w, r, 0, fmt.Errorf("settle payout %s: %w", id, err))
			return
		}
		resp, err := encodePayout(p)
		if err != nil {
			s.writeError(w, r, 0, err)
			return
		}
		// The reason is left out: it is the shop's free text about a
		// buyer's account.
		s.logger.InfoContext(r.Context(), "payout settled", "payout_id", p.ID, "ok", ok, "status", p.Status)
		s.writeJSON(w, r, http.StatusOK, resp)
	})
}

// validPayoutID reports whether id could be a payout ID. It is looser than
// the IDs refundbot makes, so that a change of their format does not
// strand payouts, but keeps control characters and giant strings out of
// logs.
func validPayoutID(id string) bool {
	if id == "" || len(id) > maxPayoutIDLength {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)) {
			return false
		}
	}
	return true
}

// decodeSettlement reads a confirm body (empty or {}) or a fail body
// ({"reason": ...}) as strictly as an order: a confirmation carrying a
// reason is refused rather than ignored, since the shop evidently meant
// something else.
func decodeSettlement(id string, ok bool, body []byte) (refund.Settlement, error) {
	st := refund.Settlement{PayoutID: id, OK: ok}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	known := func(name string) bool { return !ok && name == "reason" }
	seen, err := decodeObject(body, "settlement", known, func(name string, raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &st.Error); err != nil || bytes.Equal(raw, []byte("null")) {
			return refund.FieldError("reason", "reason must be a string")
		}
		return nil
	})
	if err != nil {
		return refund.Settlement{}, err
	}
	if ok {
		return st, nil
	}
	st.Error = strings.TrimSpace(st.Error)
	switch {
	case !seen["reason"] || st.Error == "":
		return refund.Settlement{}, refund.FieldError("reason", "reason is required: say why the payout failed")
	case utf8.RuneCountInString(st.Error) > MaxReasonLength:
		return refund.Settlement{}, refund.FieldError("reason", "reason must be at most %d characters", MaxReasonLength)
	case strings.ContainsFunc(st.Error, func(r rune) bool { return unicode.IsControl(r) && !strings.ContainsRune("\t\r\n", r) }):
		// The buyer reads the reason; escape sequences and NULs have no
		// business there, whereas a shop's line breaks are harmless.
		return refund.Settlement{}, refund.FieldError("reason", "reason must not contain control characters other than tabs and line breaks")
	}
	return st, nil
}
