package httpapi_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

func TestImportOrders(t *testing.T) {
	withID := func(id string) string {
		return orderJSON(func(m map[string]string) { m["id"] = `"` + id + `"` })
	}
	type failure struct {
		line  int
		field string
	}
	tests := []struct {
		name        string
		input       string
		known       []string // IDs already in the store
		wantCreated int
		wantUpdated int
		wantFailed  []failure
		wantStored  []string
	}{
		{
			name: "good, bad and blank lines",
			input: strings.Join([]string{
				withID("KM1"), // 1
				"",            // 2
				orderJSON(func(m map[string]string) { m["id"] = `"KM2"`; m["category"] = `"toy"` }), // 3
				withID("KM3") + "\r", // 4: CRLF file
				"   \t",              // 5
				`{"id":"KM4",`,       // 6: broken JSON
				orderJSON(func(m map[string]string) { m["id"] = `"KM5"`; m["amount_paid"] = `95.0` }), // 7
				withID("KM1"), // 8: same order again
				withID("KM6"), // 9: no final newline
			}, "\n"),
			wantCreated: 3,
			wantUpdated: 1,
			wantFailed:  []failure{{3, "category"}, {6, ""}, {7, "amount_paid"}},
			wantStored:  []string{"KM1", "KM3", "KM6"},
		},
		{
			name:        "updates known orders",
			input:       withID("KM1") + "\n" + withID("KM2") + "\n",
			known:       []string{"KM1"},
			wantCreated: 1,
			wantUpdated: 1,
			wantStored:  []string{"KM1", "KM2"},
		},
		{
			name:        "byte order mark",
			input:       "\uFEFF" + withID("KM1") + "\n",
			wantCreated: 1,
			wantStored:  []string{"KM1"},
		},
		{
			name:  "empty input",
			input: "",
		},
		{
			name:        "over-long line skipped, next line imported",
			input:       `{"product":"` + strings.Repeat("x", httpapi.MaxOrderBytes) + `"}` + "\n" + withID("KM2") + "\n",
			wantCreated: 1,
			wantFailed:  []failure{{1, ""}},
			wantStored:  []string{"KM2"},
		},
		{
			name: "line of exactly the limit is read whole",
			input: withID("KM1") + strings.Repeat(" ", httpapi.MaxOrderBytes-len(withID("KM1"))) + "\r\n" +
				withID("KM2"),
			wantCreated: 2,
			wantStored:  []string{"KM1", "KM2"},
		},
		{
			name: "line one byte over the limit is skipped",
			input: withID("KM1") + strings.Repeat(" ", httpapi.MaxOrderBytes+1-len(withID("KM1"))) + "\r\n" +
				withID("KM2"),
			wantCreated: 1,
			wantFailed:  []failure{{1, ""}},
			wantStored:  []string{"KM2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeOrders()
			for _, id := range tt.known {
				o := sampleOrder()
				o.ID = id
				store.orders[id] = o
			}
			res, err := httpapi.ImportOrders(context.Background(), strings.NewReader(tt.input), store)
			if err != nil {
				t.Fatalf("ImportOrders: %v", err)
			}
			if res.Created != tt.wantCreated || res.Updated != tt.wantUpdated {
				t.Errorf("created %d, updated %d; want %d, %d", res.Created, res.Updated, tt.wantCreated, tt.wantUpdated)
			}
			var got []failure
			for _, f := range res.Failed {
				got = append(got, failure{f.Line, refund.ErrorField(f)})
				if refund.ErrorCode(f.Err) != refund.EINVALID {
					t.Errorf("line %d: code %q, want %q", f.Line, refund.ErrorCode(f.Err), refund.EINVALID)
				}
			}
			if len(got) != len(tt.wantFailed) {
				t.Fatalf("failed lines = %v, want %v", got, tt.wantFailed)
			}
			for i := range got {
				if got[i] != tt.wantFailed[i] {
					t.Errorf("failed lines = %v, want %v", got, tt.wantFailed)
					break
				}
			}
			stored := store.snapshot()
			if len(stored) != len(tt.wantStored) {
				t.Errorf("stored %d orders, want %v", len(stored), tt.wantStored)
			}
			for _, id := range tt.wantStored {
				if _, ok := stored[id]; !ok {
					t.Errorf("order %s not stored", id)
				}
			}
		})
	}
}

func TestImportOrdersAborts(t *testing.T) {
	good := func(id string) string {
		return orderJSON(func(m map[string]string) { m["id"] = `"` + id + `"` })
	}
	input := good("KM1") + "\n" + good("KM2") + "\n" + good("KM3") + "\n"
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name        string
		reader      io.Reader
		store       func() *fakeOrders
		ctx         func() context.Context
		wantLine    string
		wantIs      error
		wantCreated int
	}{
		{
			name:   "internal store error",
			reader: strings.NewReader(input),
			store: func() *fakeOrders {
				s := newFakeOrders()
				s.failID, s.failErr = "KM2", errDisk
				return s
			},
			wantLine:    "line 2",
			wantIs:      errDisk,
			wantCreated: 1,
		},
		{
			name:        "read error",
			reader:      io.MultiReader(strings.NewReader(good("KM1")+"\n"+`{"id"`), iotest.ErrReader(errDisk)),
			wantLine:    "line 2",
			wantIs:      errDisk,
			wantCreated: 1,
		},
		{
			name:   "cancelled context",
			reader: strings.NewReader(input),
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			wantLine: "line 1",
			wantIs:   context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeOrders()
			if tt.store != nil {
				store = tt.store()
			}
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			res, err := httpapi.ImportOrders(ctx, tt.reader, store)
			if err == nil {
				t.Fatal("ImportOrders succeeded, want an error")
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantLine) {
				t.Errorf("err = %v, want %v at %s", err, tt.wantIs, tt.wantLine)
			}
			if refund.ErrorCode(err) != refund.EINTERNAL {
				t.Errorf("code = %q, want %q", refund.ErrorCode(err), refund.EINTERNAL)
			}
			if res.Created != tt.wantCreated {
				t.Errorf("created = %d, want %d", res.Created, tt.wantCreated)
			}
		})
	}
}

func TestImportOrdersStoreRefusalIsPerLine(t *testing.T) {
	store := newFakeOrders()
	store.failID, store.failErr = "KM2", refund.Errorf(refund.ECONFLICT, "order is locked")
	input := strings.Join([]string{
		orderJSON(func(m map[string]string) { m["id"] = `"KM1"` }),
		orderJSON(func(m map[string]string) { m["id"] = `"KM2"` }),
		orderJSON(func(m map[string]string) { m["id"] = `"KM3"` }),
	}, "\n")
	res, err := httpapi.ImportOrders(context.Background(), strings.NewReader(input), store)
	if err != nil {
		t.Fatalf("ImportOrders: %v", err)
	}
	if res.Created != 2 || len(res.Failed) != 1 || res.Failed[0].Line != 2 ||
		refund.ErrorCode(res.Failed[0].Err) != refund.ECONFLICT {
		t.Errorf("result = %+v, want 2 created and line 2 failed with %s", res, refund.ECONFLICT)
	}
}
