package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// CaseReader is what the case routes need of a store; the PostgreSQL and
// in-memory stores implement it. It is declared here, by its one user,
// rather than in refund, because only the shop's back office lists cases.
type CaseReader interface {
	// Case returns a case with its evidence, or an ENOTFOUND error.
	Case(ctx context.Context, id int64) (refund.Case, error)
	// Events returns a case's history, oldest first, or an ENOTFOUND error.
	Events(ctx context.Context, caseID int64) ([]refund.Event, error)
	// ListCases returns a page of cases ordered by (UpdatedAt, ID).
	ListCases(ctx context.Context, q refund.CaseQuery) ([]refund.Case, error)
}

// The page sizes of GET /api/v1/cases.
const (
	DefaultCaseListLimit = 50
	MaxCaseListLimit     = 500
)

// maxCaseIDLength bounds the {id} of a case URL; "R-" and 18 digits is
// the longest case number ParseCaseNumber reads.
const maxCaseIDLength = 20

// caseSummaryJSON is a case in a listing: everything but the statement,
// the files and the history, which a back office's table does not show
// and which would make a page of 500 cases heavy. Amounts are strings, as
// in the order JSON, so that no float touches money.
type caseSummaryJSON struct {
	ID              int64         `json:"id"`
	Number          string        `json:"number"`
	OrderID         string        `json:"order_id"`
	Buyer           buyerJSON     `json:"buyer"`
	Status          string        `json:"status"`
	Reason          string        `json:"reason"`
	Language        string        `json:"language"`
	RequestedAmount string        `json:"requested_amount"`
	Currency        string        `json:"currency"`
	Decided         amountsJSON   `json:"decided"`
	Route           *string       `json:"route"`
	Deadline        *deadlineJSON `json:"deadline"`
	Appeals         int           `json:"appeals"`
	ReviewOverdue   bool          `json:"review_overdue"`
	EvidenceCount   int           `json:"evidence_count"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
}

// caseJSON is one case in full: the summary, the buyer's statement, the
// files and the history.
type caseJSON struct {
	caseSummaryJSON
	Statement string         `json:"statement"`
	Evidence  []evidenceJSON `json:"evidence"`
	Events    []eventJSON    `json:"events"`
}

// buyerJSON is an object rather than a bare ID so that more about the
// buyer can be added without renaming anything.
type buyerJSON struct {
	TelegramID int64 `json:"telegram_id"`
}

// amountsJSON is the latest review's decision, all "0.00" until a review
// ends (a refusal decides zero too: the status tells the two apart).
type amountsJSON struct {
	Refund    string `json:"refund"`
	Fee       string `json:"fee"`
	Deduction string `json:"deduction"`
}

type deadlineJSON struct {
	Kind string `json:"kind"`
	At   string `json:"at"`
}

// evidenceJSON describes a file without its contents or its Telegram
// file_id: the file_id is only usable with the bot's token, while the
// file_unique_id is stable across bots and lets the shop match a file it
// saw elsewhere.
type evidenceJSON struct {
	Kind         string `json:"kind"`
	FileUniqueID string `json:"file_unique_id"`
	Size         int64  `json:"size"`
	MIMEType     string `json:"mime_type"`
	FileName     string `json:"file_name"`
	Caption      string `json:"caption"`
}

// eventJSON is one entry of the history. Internal marks the agents'
// internal notes, so that a back office that shows the history to a buyer
// knows what to leave out.
type eventJSON struct {
	Seq      int      `json:"seq"`
	Kind     string   `json:"kind"`
	Actor    string   `json:"actor"`
	Status   string   `json:"status"`
	Rules    []string `json:"rules"`
	Amount   *string  `json:"amount"`
	Note     string   `json:"note"`
	Internal bool     `json:"internal"`
	At       string   `json:"at"`
}

// caseListJSON is a page of the listing. NextCursor is null on the last
// page.
type caseListJSON struct {
	Cases      []caseSummaryJSON `json:"cases"`
	NextCursor *string           `json:"next_cursor"`
}

// formatTime writes a stored time as the order JSON does: RFC 3339 in UTC,
// with fractions of a second only when there are any.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func summarizeCase(c refund.Case) caseSummaryJSON {
	w := caseSummaryJSON{
		ID:              c.ID,
		Number:          c.Number(),
		OrderID:         c.OrderID,
		Buyer:           buyerJSON{TelegramID: c.BuyerUserID},
		Status:          string(c.Status),
		Reason:          string(c.Reason),
		Language:        c.Language,
		RequestedAmount: c.RequestedAmount.String(),
		Currency:        c.Currency,
		Decided: amountsJSON{
			Refund:    c.Decided.Refund.String(),
			Fee:       c.Decided.Fee.String(),
			Deduction: c.Decided.Deduction.String(),
		},
		Appeals:       c.Appeals,
		ReviewOverdue: c.ReviewOverdue,
		EvidenceCount: len(c.Evidence),
		CreatedAt:     formatTime(c.CreatedAt),
		UpdatedAt:     formatTime(c.UpdatedAt),
	}
	if c.Route != "" {
		route := string(c.Route)
		w.Route = &route
	}
	if c.Due.Kind != "" {
		w.Deadline = &deadlineJSON{Kind: string(c.Due.Kind), At: formatTime(c.Due.At)}
	}
	return w
}

// encodeCase writes a case with its history.
//
// Agents' internal notes (events of kind agent_note) are included, marked
// "internal": true. They are internal in the sense of never reaching the
// buyer; the bearer of SHOP_API_TOKEN is the shop itself, whose staff the
// agents are and whose back office is where a supervisor reviews what
// they wrote. Leaving the notes out would hide part of its own audit trail
// from the shop.
func encodeCase(c refund.Case, events []refund.Event) ([]byte, error) {
	w := caseJSON{
		caseSummaryJSON: summarizeCase(c),
		Statement:       c.Statement,
		Evidence:        make([]evidenceJSON, 0, len(c.Evidence)),
		Events:          make([]eventJSON, 0, len(events)),
	}
	for _, e := range c.Evidence {
		w.Evidence = append(w.Evidence, evidenceJSON{
			Kind: string(e.Kind), FileUniqueID: e.FileUniqueID, Size: e.Size,
			MIMEType: e.MIMEType, FileName: e.FileName, Caption: e.Caption,
		})
	}
	for _, ev := range events {
		rules := make([]string, 0, len(ev.Rules))
		for _, r := range ev.Rules {
			rules = append(rules, string(r))
		}
		ej := eventJSON{
			Seq: ev.Seq, Kind: string(ev.Type), Actor: ev.Actor, Status: string(ev.Status), Rules: rules,
			Note: ev.Note, Internal: ev.Type == refund.EventAgentNote, At: formatTime(ev.At),
		}
		if ev.Amount != 0 {
			amount := ev.Amount.String()
			ej.Amount = &amount
		}
		w.Events = append(w.Events, ej)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode case %s: %w", c.Number(), err)
	}
	return b, nil
}

// parseCaseID reads the {id} of a case URL: the number buyers quote
// ("R-000123", any case, dash optional) or the bare integer.
func parseCaseID(s string) (int64, bool) {
	if s == "" || len(s) > maxCaseIDLength {
		return 0, false
	}
	if id, ok := refund.ParseCaseNumber(s); ok {
		return id, true
	}
	// ParseInt alone would take "+12" and "-3".
	if strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

func (s *server) handleGetCase(w http.ResponseWriter, r *http.Request) {
	id, ok := parseCaseID(r.PathValue("id"))
	if !ok {
		s.writeError(w, r, 0, refund.FieldError("id", "the case id in the URL must be a case number such as R-000123 or its integer, 123"))
		return
	}
	c, err := s.cases.Case(r.Context(), id)
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("get case %s: %w", refund.FormatCaseNumber(id), err))
		return
	}
	// Read after the case, so the history is at least as new as the case
	// it comes with; a change landing in between shows in the history
	// first, never the other way round.
	events, err := s.cases.Events(r.Context(), id)
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("get events of case %s: %w", c.Number(), err))
		return
	}
	body, err := encodeCase(c, events)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, body)
}

func (s *server) handleListCases(w http.ResponseWriter, r *http.Request) {
	q, err := parseCaseListQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	limit := q.Limit
	// One case more than the page tells whether another page follows, so
	// that the last page says so instead of the client asking for an
	// empty one.
	q.Limit++
	cases, err := s.cases.ListCases(r.Context(), q)
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("list cases: %w", err))
		return
	}
	page := caseListJSON{Cases: make([]caseSummaryJSON, 0, min(len(cases), limit))}
	if len(cases) > limit {
		cases = cases[:limit]
		last := cases[len(cases)-1]
		next := encodeCursor(last.UpdatedAt, last.ID)
		page.NextCursor = &next
	}
	for _, c := range cases {
		page.Cases = append(page.Cases, summarizeCase(c))
	}
	body, err := json.Marshal(page)
	if err != nil {
		s.writeError(w, r, 0, fmt.Errorf("encode case list: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, body)
}

// parseCaseListQuery reads the listing's query string. Like the order
// JSON it is strict: an unknown or repeated parameter is an error naming
// it, because a typo such as "stauts" would otherwise silently list every
// case. An empty value counts as absent, which is what HTML forms and
// URL builders send for a blank filter.
func parseCaseListQuery(raw string) (refund.CaseQuery, error) {
	q := refund.CaseQuery{Limit: DefaultCaseListLimit}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return refund.CaseQuery{}, refund.Errorf(refund.EINVALID, "malformed query string")
	}
	for name, vs := range values {
		switch name {
		case "status", "since", "limit", "cursor":
		default:
			return refund.CaseQuery{}, refund.FieldError(truncate(name, maxQuotedName), "unknown query parameter %q", truncate(name, maxQuotedName))
		}
		if len(vs) > 1 {
			return refund.CaseQuery{}, refund.FieldError(name, "%s appears more than once", name)
		}
	}
	if v := values.Get("status"); v != "" {
		q.Status = refund.Status(v)
		if !q.Status.Valid() {
			return refund.CaseQuery{}, refund.FieldError("status", "status must be one of %s", statusList())
		}
	}
	if v := values.Get("since"); v != "" {
		t, err := parseSince(v)
		if err != nil {
			return refund.CaseQuery{}, err
		}
		q.Since = t
	}
	if v := values.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxCaseListLimit {
			return refund.CaseQuery{}, refund.FieldError("limit", "limit must be an integer from 1 to %d", MaxCaseListLimit)
		}
		q.Limit = n
	}
	if v := values.Get("cursor"); v != "" {
		updated, id, ok := decodeCursor(v)
		if !ok {
			return refund.CaseQuery{}, refund.FieldError("cursor", "cursor must be a next_cursor returned by this API")
		}
		q.AfterUpdated, q.AfterID = updated, id
	}
	return q, nil
}

// parseSince reads an RFC 3339 time. A '+' in a query string means a
// space, so an offset such as +08:00 sent unescaped arrives as " 08:00";
// a space has no other business in an RFC 3339 time, so it is read back
// as the '+' the shop meant.
func parseSince(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+"))
	if err != nil {
		return time.Time{}, refund.FieldError("since", "since must be an RFC 3339 time such as 2026-11-20T14:05:00Z (escape + as %%2B)")
	}
	return t.UTC(), nil
}

func statusList() string {
	var names []string
	for _, st := range refund.Statuses() {
		names = append(names, string(st))
	}
	return strings.Join(names, ", ")
}

// cursorVersion starts every cursor, so that a later format can tell old
// cursors from new ones and still read them, or refuse them clearly.
const cursorVersion = "c1"

// encodeCursor writes a listing position: the last case's update time in
// microseconds (the stores' precision) and its ID. It is opaque to the
// shop, base64url so that it needs no escaping in a URL.
func encodeCursor(updated time.Time, id int64) string {
	plain := cursorVersion + ":" + strconv.FormatInt(updated.UnixMicro(), 10) + ":" + strconv.FormatInt(id, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(plain))
}

// decodeCursor reads what encodeCursor wrote. A cursor is the shop's to
// send back, so it may be forged: anything encodeCursor could not have
// written from a stored case (a time outside refund.ValidPositionTime, an
// ID that is not positive) is refused here, as the shop's error, rather
// than reaching the store.
func decodeCursor(s string) (time.Time, int64, bool) {
	plain, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, false
	}
	parts := strings.Split(string(plain), ":")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return time.Time{}, 0, false
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	updated := time.UnixMicro(micros).UTC()
	if err1 != nil || err2 != nil || id <= 0 || !refund.ValidPositionTime(updated) {
		return time.Time{}, 0, false
	}
	return updated, id, true
}
