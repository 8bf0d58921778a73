package httpapi_test

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

// FuzzDecodeOrder checks that no input makes DecodeOrder panic or fail
// with anything but EINVALID, and that whatever it accepts is valid and
// survives EncodeOrder unchanged. Seeds live in testdata/fuzz/FuzzDecodeOrder;
// run with go test -fuzz=FuzzDecodeOrder ./refund/httpapi/.
func FuzzDecodeOrder(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := httpapi.DecodeOrder(data)
		if err != nil {
			if code := refund.ErrorCode(err); code != refund.EINVALID {
				t.Fatalf("DecodeOrder(%q): code %q, want %q: %v", data, code, refund.EINVALID, err)
			}
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("DecodeOrder(%q) returned an invalid order: %v", data, err)
		}
		for _, tm := range []time.Time{o.PurchasedAt, o.DeliveredAt, o.Usage.ActivatedAt} {
			if tm.Location() != time.UTC {
				t.Fatalf("DecodeOrder(%q): time %v not in UTC", data, tm)
			}
		}
		enc, err := httpapi.EncodeOrder(o)
		if err != nil {
			t.Fatalf("EncodeOrder(%+v): %v", o, err)
		}
		again, err := httpapi.DecodeOrder(enc)
		if err != nil {
			t.Fatalf("DecodeOrder(EncodeOrder(o)) = %v; encoded %s from %q", err, enc, data)
		}
		if again != o {
			t.Fatalf("round trip changed the order:\nfirst  %+v\nsecond %+v\nvia %s", o, again, enc)
		}
	})
}
