package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
	"github.com/refundbot/refundbot/refund/inmem"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

// Both stores serve the case routes.
var (
	_ httpapi.CaseReader = (*postgres.DB)(nil)
	_ httpapi.CaseReader = (*inmem.Store)(nil)
)

// caseAPI is the API over a real PostgreSQL store in a schema of its own.
func caseAPI(t *testing.T) (*testAPI, *postgres.DB) {
	t.Helper()
	db := pgtest.Open(t)
	return newTestAPI(t, func(cfg *httpapi.Config) { cfg.Cases = db }), db
}

// submitCase stores an order and a case for it with the given files.
func submitCase(t *testing.T, db *postgres.DB, orderID string, evidence []refund.Evidence) refund.Case {
	t.Helper()
	o := sampleOrder()
	o.ID = orderID
	if _, err := db.UpsertOrder(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	c, err := db.CreateCase(t.Context(), refund.NewCase{
		OrderID: orderID, BuyerUserID: 1001, ChatID: 1001, Reason: refund.ReasonInvalidCode,
		Statement: "11月20日买的点卡，充值时提示卡密已被使用，请退款。", RequestedAmount: 9500, Currency: "CNY",
		Language: "zh-CN", SubmissionKey: "key-" + orderID, Evidence: evidence,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func apply(t *testing.T, db *postgres.DB, ch refund.Change) refund.Case {
	t.Helper()
	c, err := db.Apply(t.Context(), ch)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", ch, err)
	}
	return c
}

// moveAt moves a case to status at the time given, which becomes its
// updated_at.
func moveAt(t *testing.T, db *postgres.DB, id int64, from, to refund.Status, at time.Time) refund.Case {
	t.Helper()
	return apply(t, db, refund.Change{CaseID: id, From: from, To: to, Actor: refund.ActorSystem, At: at,
		Events: []refund.EventDraft{{Type: refund.EventStatusChanged, Status: to}}})
}

func decodeJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, data)
	}
	return v
}

func TestGetCase(t *testing.T) {
	api, db := caseAPI(t)
	c := submitCase(t, db, "KM20261120001", []refund.Evidence{
		{Kind: refund.EvidencePhoto, FileID: "AgAC-secret-file-id", FileUniqueID: "AQAD-uniq-1", Size: 52000,
			MIMEType: "image/jpeg", Caption: "充值页面"},
		{Kind: refund.EvidenceDocument, FileID: "BQAC-secret-file-id", FileUniqueID: "AQAD-uniq-2", Size: 1200,
			MIMEType: "application/pdf", FileName: "receipt.pdf"},
	})
	approvedAt := time.Date(2026, 11, 22, 14, 5, 0, 123000000, time.FixedZone("CST", 8*3600))
	dueAt := time.Date(2026, 11, 23, 6, 5, 0, 0, time.UTC)
	apply(t, db, refund.Change{
		CaseID: c.ID, From: refund.StatusSubmitted, To: refund.StatusApproved, Actor: refund.ActorSystem, At: approvedAt,
		Events: []refund.EventDraft{{Type: refund.EventStatusChanged, Status: refund.StatusApproved,
			Rules: []refund.Rule{refund.RuleFastLane, refund.RuleFullRefund}, Amount: 9500}},
		Decided: &refund.Amounts{Refund: 9000, Fee: 300, Deduction: 200},
		Route:   refund.RouteOriginal,
		Due:     &refund.Due{Kind: refund.DueRoute, At: dueAt},
	})
	noteAt := approvedAt.Add(time.Minute)
	stored := apply(t, db, refund.Change{
		CaseID: c.ID, From: refund.StatusApproved, To: refund.StatusApproved, Actor: "agent:9017", At: noteAt,
		Events: []refund.EventDraft{{Type: refund.EventAgentNote, Status: refund.StatusApproved, Note: "买家来电确认过"}},
	})

	want := fmt.Sprintf(`{
		"id": %[1]d, "number": %[2]q, "order_id": "KM20261120001",
		"buyer": {"telegram_id": 1001},
		"status": "approved", "reason": "invalid_code", "language": "zh-CN",
		"requested_amount": "95.00", "currency": "CNY",
		"decided": {"refund": "90.00", "fee": "3.00", "deduction": "2.00"},
		"route": "original",
		"deadline": {"kind": "route", "at": "2026-11-23T06:05:00Z"},
		"appeals": 0, "review_overdue": false, "evidence_count": 2,
		"created_at": %[3]q, "updated_at": "2026-11-22T06:06:00.123Z",
		"statement": "11月20日买的点卡，充值时提示卡密已被使用，请退款。",
		"evidence": [
			{"kind": "photo", "file_unique_id": "AQAD-uniq-1", "size": 52000, "mime_type": "image/jpeg",
			 "file_name": "", "caption": "充值页面"},
			{"kind": "document", "file_unique_id": "AQAD-uniq-2", "size": 1200, "mime_type": "application/pdf",
			 "file_name": "receipt.pdf", "caption": ""}
		],
		"events": [
			{"seq": 1, "kind": "submitted", "actor": "buyer", "status": "submitted", "rules": [], "amount": null,
			 "note": "", "internal": false, "at": %[3]q},
			{"seq": 2, "kind": "status_changed", "actor": "system", "status": "approved",
			 "rules": ["fast_lane", "full_refund"], "amount": "95.00", "note": "", "internal": false,
			 "at": "2026-11-22T06:05:00.123Z"},
			{"seq": 3, "kind": "agent_note", "actor": "agent:9017", "status": "approved", "rules": [], "amount": null,
			 "note": "买家来电确认过", "internal": true, "at": "2026-11-22T06:06:00.123Z"}
		]
	}`, c.ID, c.Number(), stored.CreatedAt.UTC().Format(time.RFC3339Nano))

	// Every spelling of the case's number reaches the same case.
	for _, id := range []string{c.Number(), strings.ToLower(c.Number()), strings.ReplaceAll(c.Number(), "-", ""),
		fmt.Sprint(c.ID), fmt.Sprintf("%06d", c.ID)} {
		t.Run(id, func(t *testing.T) {
			w := api.do(t, request{method: http.MethodGet, path: "/api/v1/cases/" + id})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if got, want := decodeJSON(t, w.Body.Bytes()), decodeJSON(t, []byte(want)); !reflect.DeepEqual(got, want) {
				t.Errorf("case JSON\n got %s\nwant %s", w.Body, want)
			}
			if strings.Contains(w.Body.String(), "secret-file-id") {
				t.Errorf("answer carries Telegram file_ids: %s", w.Body)
			}
		})
	}
}

func TestGetCaseOfANewCase(t *testing.T) {
	api, db := caseAPI(t)
	c := submitCase(t, db, "KM20261120001", nil)
	w := api.do(t, request{method: http.MethodGet, path: "/api/v1/cases/" + c.Number()})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	got := decodeJSON(t, w.Body.Bytes()).(map[string]any)
	// What no review has set yet is null or zero, never absent, and the
	// lists are empty lists rather than null.
	wantMembers := map[string]any{
		"status": "submitted", "route": nil, "deadline": nil, "evidence": []any{}, "evidence_count": 0.0,
		"decided": map[string]any{"refund": "0.00", "fee": "0.00", "deduction": "0.00"},
	}
	for k, want := range wantMembers {
		if v, ok := got[k]; !ok || !reflect.DeepEqual(v, want) {
			t.Errorf("%s = %#v (present %v), want %#v", k, v, ok, want)
		}
	}
}

func TestGetCaseRejects(t *testing.T) {
	api, db := caseAPI(t)
	submitCase(t, db, "KM20261120001", nil)
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
	}{
		{"unknown number", request{path: "/api/v1/cases/R-999999"}, 404, refund.ENOTFOUND, ""},
		{"unknown integer", request{path: "/api/v1/cases/999999"}, 404, refund.ENOTFOUND, ""},
		{"not a case number", request{path: "/api/v1/cases/KM20261120001"}, 400, refund.EINVALID, "id"},
		{"too few digits after R-", request{path: "/api/v1/cases/R-1"}, 400, refund.EINVALID, "id"},
		{"zero", request{path: "/api/v1/cases/0"}, 400, refund.EINVALID, "id"},
		{"signed", request{path: "/api/v1/cases/+1"}, 400, refund.EINVALID, "id"},
		{"too long", request{path: "/api/v1/cases/" + strings.Repeat("1", 30)}, 400, refund.EINVALID, "id"},
		{"no token", request{path: "/api/v1/cases/R-000001", header: map[string]string{"Authorization": ""}},
			401, refund.EUNAUTHORIZED, ""},
		{"wrong token", request{path: "/api/v1/cases/R-000001", header: map[string]string{"Authorization": "Bearer nope"}},
			401, refund.EUNAUTHORIZED, ""},
		{"wrong method", request{method: http.MethodPut, path: "/api/v1/cases/R-000001"}, 405, refund.EINVALID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req.method == "" {
				req.method = http.MethodGet
			}
			w := api.do(t, req)
			checkError(t, w, tt.status, tt.code, tt.field)
			if tt.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
			if tt.status == 405 && w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want GET, HEAD", w.Header().Get("Allow"))
			}
		})
	}
}

func TestCaseRoutesNeedCases(t *testing.T) {
	api := newTestAPI(t, nil) // a token but no Config.Cases
	for _, path := range []string{"/api/v1/cases", "/api/v1/cases/R-000001"} {
		checkError(t, api.do(t, request{method: http.MethodGet, path: path}), 404, refund.ENOTFOUND, "")
	}
}

// listFixture stores seven cases whose update order is neither their ID
// order nor the order of their updates, with ties broken by ID. It
// returns their numbers in listing order.
func listFixture(t *testing.T, db *postgres.DB) (numbers []string, base time.Time) {
	t.Helper()
	base = time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC)
	plan := []struct {
		after  time.Duration
		status refund.Status
	}{
		{2 * time.Hour, refund.StatusNeedsInfo},
		{0, refund.StatusHumanReview},
		{time.Hour, refund.StatusRejected},
		{0, refund.StatusNeedsInfo},
		{time.Microsecond, refund.StatusApproved},
		{0, refund.StatusNeedsInfo},
		{time.Hour, refund.StatusNeedsInfo},
	}
	cases := make([]refund.Case, len(plan))
	for i := range plan {
		cases[i] = submitCase(t, db, fmt.Sprintf("KM2030030100%d", i), nil)
	}
	for i := len(plan) - 1; i >= 0; i-- {
		cases[i] = moveAt(t, db, cases[i].ID, refund.StatusSubmitted, plan[i].status, base.Add(plan[i].after))
	}
	for _, i := range []int{1, 3, 5, 4, 2, 6, 0} {
		numbers = append(numbers, cases[i].Number())
	}
	return numbers, base
}

// listPage is the listing's JSON, strictly decoded.
type listPage struct {
	Cases      []map[string]any `json:"cases"`
	NextCursor *string          `json:"next_cursor"`
}

func getPage(t *testing.T, api *testAPI, query string) listPage {
	t.Helper()
	w := api.do(t, request{method: http.MethodGet, path: "/api/v1/cases?" + query})
	if w.Code != http.StatusOK {
		t.Fatalf("GET ?%s: status = %d; body %s", query, w.Code, w.Body)
	}
	var p listPage
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("GET ?%s: %v", query, err)
	}
	if p.Cases == nil {
		t.Fatalf("GET ?%s: cases is null or absent, want a list", query)
	}
	return p
}

// pageThrough follows next_cursor from query and returns the numbers of
// every case seen, and the size of each page.
func pageThrough(t *testing.T, api *testAPI, query string) (numbers []string, sizes []int) {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		p := getPage(t, api, q.Encode())
		sizes = append(sizes, len(p.Cases))
		for _, c := range p.Cases {
			numbers = append(numbers, c["number"].(string))
		}
		if p.NextCursor == nil {
			return numbers, sizes
		}
		q.Set("cursor", *p.NextCursor)
	}
	t.Fatal("next_cursor never ran out")
	return nil, nil
}

func TestListCasesPages(t *testing.T) {
	api, db := caseAPI(t)
	all, _ := listFixture(t, db)
	tests := []struct {
		limit     string
		wantSizes []int
	}{
		{"1", []int{1, 1, 1, 1, 1, 1, 1}},
		{"2", []int{2, 2, 2, 1}},
		{"3", []int{3, 3, 1}},
		// A page that ends exactly at the last case says it is the last,
		// rather than sending the client for an empty page.
		{"7", []int{7}},
		{"500", []int{7}},
		{"", []int{7}},
	}
	for _, tt := range tests {
		t.Run("limit "+tt.limit, func(t *testing.T) {
			query := ""
			if tt.limit != "" {
				query = "limit=" + tt.limit
			}
			got, sizes := pageThrough(t, api, query)
			if !slices.Equal(got, all) {
				t.Errorf("cases %v, want %v once each, in order", got, all)
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("page sizes %v, want %v", sizes, tt.wantSizes)
			}
		})
	}
}

func TestListCasesFilters(t *testing.T) {
	api, db := caseAPI(t)
	all, base := listFixture(t, db)
	pick := func(is ...int) []string {
		out := []string{}
		for _, i := range is {
			out = append(out, all[i])
		}
		return out
	}
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"status", "status=needs_info", pick(1, 2, 5, 6)},
		{"status none has", "status=closed", pick()},
		{"empty values are absent", "status=&since=&cursor=&limit=", all},
		{"since, inclusive", "since=" + url.QueryEscape(base.Add(time.Microsecond).Format(time.RFC3339Nano)), pick(3, 4, 5, 6)},
		{"since with an escaped offset", "since=2030-03-01T19:00:00%2B08:00", pick(4, 5, 6)},
		{"since with an unescaped offset", "since=2030-03-01T19:00:00+08:00", pick(4, 5, 6)},
		{"since after everything", "since=2031-01-01T00:00:00Z", pick()},
		{"status and since, a case a page", "status=needs_info&since=2030-03-01T11:00:00Z&limit=1", pick(5, 6)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := pageThrough(t, api, tt.query)
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("GET ?%s = %v, want %v", tt.query, got, tt.want)
			}
		})
	}
}

// TestListCasesSummary checks a listed case's JSON: the case's members
// but the statement, files and history.
func TestListCasesSummary(t *testing.T) {
	api, db := caseAPI(t)
	c := submitCase(t, db, "KM20261120001", []refund.Evidence{
		{Kind: refund.EvidencePhoto, FileID: "AgAC-1", FileUniqueID: "AQAD-1", Size: 1, MIMEType: "image/jpeg"},
	})
	at := time.Date(2026, 11, 22, 6, 5, 0, 0, time.UTC)
	apply(t, db, refund.Change{
		CaseID: c.ID, From: refund.StatusSubmitted, To: refund.StatusRejected, Actor: "agent:9017", At: at,
		Events:  []refund.EventDraft{{Type: refund.EventStatusChanged, Status: refund.StatusRejected, Note: "卡密已使用"}},
		Decided: &refund.Amounts{},
		Due:     &refund.Due{Kind: refund.DueAppeal, At: at.Add(7 * 24 * time.Hour)},
	})
	p := getPage(t, api, "")
	if len(p.Cases) != 1 || p.NextCursor != nil {
		t.Fatalf("page = %+v, want one case and no next cursor", p)
	}
	want := decodeJSON(t, fmt.Appendf(nil, `{
		"id": %d, "number": %q, "order_id": "KM20261120001", "buyer": {"telegram_id": 1001},
		"status": "rejected", "reason": "invalid_code", "language": "zh-CN",
		"requested_amount": "95.00", "currency": "CNY",
		"decided": {"refund": "0.00", "fee": "0.00", "deduction": "0.00"},
		"route": null, "deadline": {"kind": "appeal", "at": "2026-11-29T06:05:00Z"},
		"appeals": 0, "review_overdue": false, "evidence_count": 1,
		"created_at": %q, "updated_at": "2026-11-22T06:05:00Z"}`,
		c.ID, c.Number(), c.CreatedAt.UTC().Format(time.RFC3339Nano)))
	if got := any(p.Cases[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("summary\n got %v\nwant %v", got, want)
	}
}

func TestListCasesRejects(t *testing.T) {
	api, db := caseAPI(t)
	listFixture(t, db)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		query  string
		header map[string]string
		status int
		code   string
		field  string
	}{
		{"unknown status", "status=pending", nil, 400, refund.EINVALID, "status"},
		{"status in capitals", "status=NEEDS_INFO", nil, 400, refund.EINVALID, "status"},
		{"status twice", "status=approved&status=closed", nil, 400, refund.EINVALID, "status"},
		{"since not a time", "since=yesterday", nil, 400, refund.EINVALID, "since"},
		{"since a date only", "since=2030-03-01", nil, 400, refund.EINVALID, "since"},
		{"since without a zone", "since=2030-03-01T10:00:00", nil, 400, refund.EINVALID, "since"},
		{"since as unix seconds", "since=1900000000", nil, 400, refund.EINVALID, "since"},
		{"limit zero", "limit=0", nil, 400, refund.EINVALID, "limit"},
		{"limit negative", "limit=-1", nil, 400, refund.EINVALID, "limit"},
		{"limit over 500", "limit=501", nil, 400, refund.EINVALID, "limit"},
		{"limit not a number", "limit=ten", nil, 400, refund.EINVALID, "limit"},
		{"limit fractional", "limit=1.5", nil, 400, refund.EINVALID, "limit"},
		{"cursor not base64", "cursor=%21%21", nil, 400, refund.EINVALID, "cursor"},
		{"cursor of another format", "cursor=" + b64("c2:1900000000000000:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with a bad time", "cursor=" + b64("c1:soon:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor without a case", "cursor=" + b64("c1:1900000000000000:0"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with extra parts", "cursor=" + b64("c1:1900000000000000:1:2"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor at the largest time", "cursor=" + b64("c1:9223372036854775807:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor at the smallest time", "cursor=" + b64("c1:-9223372036854775808:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor before year 1", "cursor=" + b64("c1:-62135596800000001:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor before 1970", "cursor=" + b64("c1:-1:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor in year 10000", "cursor=" + b64("c1:253402300800000000:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor in year 200000", "cursor=" + b64("c1:6249000000000000000:1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with a negative id", "cursor=" + b64("c1:1900000000000000:-5"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with the smallest id", "cursor=" + b64("c1:1900000000000000:-9223372036854775808"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with an id too big", "cursor=" + b64("c1:1900000000000000:9223372036854775808"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor garbage base64", "cursor=" + url.QueryEscape("@@@@%%%%"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor padded base64", "cursor=" + url.QueryEscape(base64.URLEncoding.EncodeToString([]byte("c1:1900000000000000:1x"))), nil, 400, refund.EINVALID, "cursor"},
		{"cursor standard base64", "cursor=" + url.QueryEscape("+/+/"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor valid base64 of junk", "cursor=" + b64("\x00\xff\xfe junk"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor valid base64 of JSON", "cursor=" + b64(`{"updated":1,"id":1}`), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with empty parts", "cursor=" + b64("c1::"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor with spaces", "cursor=" + b64("c1: 1900000000000000 : 1"), nil, 400, refund.EINVALID, "cursor"},
		{"cursor of one byte", "cursor=A", nil, 400, refund.EINVALID, "cursor"},
		{"misspelt parameter", "stauts=approved", nil, 400, refund.EINVALID, "stauts"},
		{"offset is not a thing", "offset=10", nil, 400, refund.EINVALID, "offset"},
		{"no token", "", map[string]string{"Authorization": ""}, 401, refund.EUNAUTHORIZED, ""},
		{"wrong token", "", map[string]string{"Authorization": "Bearer " + testToken + "x"}, 401, refund.EUNAUTHORIZED, ""},
		{"token as a query parameter", "token=" + testToken, map[string]string{"Authorization": ""}, 401, refund.EUNAUTHORIZED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := api.do(t, request{method: http.MethodGet, path: "/api/v1/cases?" + tt.query, header: tt.header})
			checkError(t, w, tt.status, tt.code, tt.field)
		})
	}
}

// TestListCasesCursorIsAPosition checks that a cursor resumes after the
// case it was made from, even when that case changed since: the case
// moves to the end and comes again, and nothing is skipped.
func TestListCasesCursorIsAPosition(t *testing.T) {
	api, db := caseAPI(t)
	all, base := listFixture(t, db)
	first := getPage(t, api, "limit=3")
	if first.NextCursor == nil {
		t.Fatal("first page of three has no next_cursor")
	}
	id, _ := refund.ParseCaseNumber(all[0])
	moveAt(t, db, id, refund.StatusHumanReview, refund.StatusApproved, base.Add(3*time.Hour))
	rest, _ := pageThrough(t, api, "limit=3&cursor="+url.QueryEscape(*first.NextCursor))
	if want := append(slices.Clone(all[3:]), all[0]); !slices.Equal(rest, want) {
		t.Errorf("after the change: %v, want %v", rest, want)
	}
}

// TestGetCaseShowsTheBuyersRating: the rating of a talk with an agent
// and the comment the buyer added are in the case's history as the
// desk's service wrote them, the comment as the buyer's own words, not
// internal (the buyer wrote it).
func TestGetCaseShowsTheBuyersRating(t *testing.T) {
	api, db := caseAPI(t)
	ctx := t.Context()
	c := submitCase(t, db, "KM20261120001", nil)
	cases, err := refund.NewService(refund.ServiceConfig{Store: db, Policy: refund.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	desk, err := refund.NewEscalationService(refund.EscalationServiceConfig{Escalations: db, Agents: db, Cases: cases})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAgent(ctx, refund.Agent{UserID: 9017, DisplayName: "张三", StaffNumber: "K017"}); err != nil {
		t.Fatal(err)
	}
	agent, err := db.Agent(ctx, 9017)
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := desk.Escalate(ctx, refund.Escalation{CaseID: c.ID, BuyerChatID: 1001, BuyerUserID: 1001,
		Language: "zh-CN", Reason: refund.EscalateAsked})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Take(ctx, e.ID, agent); err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Release(ctx, e.ID, agent); err != nil {
		t.Fatal(err)
	}
	if _, err := desk.Rate(ctx, e.ID, 1001, 4); err != nil {
		t.Fatal(err)
	}
	const comment = "客服很耐心，\n就是等得有点久 <b>快点</b>"
	if _, err := desk.CommentRating(ctx, e.ID, 1001, comment); err != nil {
		t.Fatal(err)
	}

	w := api.do(t, request{method: http.MethodGet, path: "/api/v1/cases/" + c.Number()})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	var view struct {
		Events []struct {
			Kind     string `json:"kind"`
			Actor    string `json:"actor"`
			Note     string `json:"note"`
			Internal bool   `json:"internal"`
		} `json:"events"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &view); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range view.Events {
		got = append(got, fmt.Sprintf("%s %s %q %v", ev.Kind, ev.Actor, ev.Note, ev.Internal))
	}
	want := []string{`submitted buyer "" false`, `agent_took agent:9017 "" false`, `agent_released agent:9017 "" false`,
		`rated buyer "4/5" false`, `rating_comment buyer ` + fmt.Sprintf("%q", comment) + ` false`}
	if !slices.Equal(got, want) {
		t.Errorf("history\n got %q\nwant %q", got, want)
	}
}
