package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

// sampleOrder is the domain value of sampleMembers.
func sampleOrder() refund.Order {
	return refund.Order{
		ID:              "KM20261120001",
		BuyerTelegramID: 1001,
		ContactPhone:    "13800138000",
		Product:         "王者荣耀点卡 100元",
		Category:        refund.CategoryGameCard,
		AmountPaid:      9500,
		ListPrice:       10000,
		Currency:        "CNY",
		PaymentMethod:   refund.PayAlipay,
		PurchasedAt:     time.Date(2026, 11, 20, 6, 5, 0, 0, time.UTC),
		DeliveredAt:     time.Date(2026, 11, 20, 6, 5, 10, 0, time.UTC),
		Used:            false,
	}
}

func TestDecodeOrder(t *testing.T) {
	tests := []struct {
		name string
		data string
		want func(o *refund.Order)
	}{
		{name: "sample", data: orderJSON(nil), want: func(*refund.Order) {}},
		{
			name: "null buyer and delivery",
			data: orderJSON(func(m map[string]string) { m["buyer_telegram_id"] = "null"; m["delivered_at"] = " null" }),
			want: func(o *refund.Order) { o.BuyerTelegramID = 0; o.DeliveredAt = time.Time{} },
		},
		{
			name: "absent buyer and delivery",
			data: orderJSON(func(m map[string]string) { delete(m, "buyer_telegram_id"); delete(m, "delivered_at") }),
			want: func(o *refund.Order) { o.BuyerTelegramID = 0; o.DeliveredAt = time.Time{} },
		},
		{
			name: "order id normalized like a buyer's input",
			data: orderJSON(func(m map[string]string) { m["id"] = `"km20261120001"` }),
			want: func(*refund.Order) {},
		},
		{
			name: "whole and one-decimal amounts, fractional seconds, used",
			data: orderJSON(func(m map[string]string) {
				m["amount_paid"] = `"95"`
				m["list_price"] = `"100.5"`
				m["purchased_at"] = `"2026-11-20T06:05:00.25Z"`
				m["used"] = "true"
			}),
			want: func(o *refund.Order) {
				o.ListPrice = 10050
				o.PurchasedAt = time.Date(2026, 11, 20, 6, 5, 0, 250_000_000, time.UTC)
				o.Used = true
			},
		},
		{
			name: "surrounding whitespace",
			data: "\n  " + orderJSON(nil) + " \r\n\t",
			want: func(*refund.Order) {},
		},
		{
			name: "membership term and activation",
			data: orderJSON(func(m map[string]string) {
				m["term_days"] = "30"
				m["activated_at"] = `"2026-11-20T15:00:00+08:00"`
			}),
			want: func(o *refund.Order) {
				o.Usage.TermDays = 30
				o.Usage.ActivatedAt = time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC)
			},
		},
		{
			name: "null activation",
			data: orderJSON(func(m map[string]string) { m["term_days"] = "365"; m["activated_at"] = "null" }),
			want: func(o *refund.Order) { o.Usage.TermDays = 365 },
		},
		{
			name: "top-up consumption",
			data: orderJSON(func(m map[string]string) { m["consumed_value"] = `"12.5"` }),
			want: func(o *refund.Order) { o.Usage.ConsumedValue = 1250 },
		},
		{
			name: "service progress",
			data: orderJSON(func(m map[string]string) { m["progress_percent"] = "100" }),
			want: func(o *refund.Order) { o.Usage.ProgressPercent = 100 },
		},
		{
			name: "gift kept and returned",
			data: orderJSON(func(m map[string]string) { m["gift_value"] = `"5.00"`; m["gift_returned"] = "true" }),
			want: func(o *refund.Order) { o.GiftValue = 500; o.GiftReturned = true },
		},
		{
			name: "explicit zeros equal absent members",
			data: orderJSON(func(m map[string]string) {
				m["term_days"] = "0"
				m["consumed_value"] = `"0"`
				m["progress_percent"] = "0"
				m["gift_value"] = `"0.00"`
				m["gift_returned"] = "false"
			}),
			want: func(*refund.Order) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := httpapi.DecodeOrder([]byte(tt.data))
			if err != nil {
				t.Fatalf("DecodeOrder: %v", err)
			}
			want := sampleOrder()
			tt.want(&want)
			if got != want {
				t.Errorf("DecodeOrder:\n got %+v\nwant %+v", got, want)
			}
			if got.PurchasedAt.Location() != time.UTC || got.Usage.ActivatedAt.Location() != time.UTC {
				t.Errorf("locations = %v, %v; want UTC", got.PurchasedAt.Location(), got.Usage.ActivatedAt.Location())
			}
		})
	}
}

func TestDecodeOrderNamesBadField(t *testing.T) {
	set := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	drop := func(k string) func(map[string]string) { return func(m map[string]string) { delete(m, k) } }
	tests := []struct {
		name      string
		data      string
		wantField string
	}{
		{"unknown category", orderJSON(set("category", `"toy"`)), "category"},
		{"unknown payment method", orderJSON(set("payment_method", `"paypal"`)), "payment_method"},
		{"three decimals", orderJSON(set("amount_paid", `"9.999"`)), "amount_paid"},
		{"negative amount", orderJSON(set("amount_paid", `"-1"`)), "amount_paid"},
		{"amount as a number", orderJSON(set("amount_paid", `95.0`)), "amount_paid"},
		{"amount with exponent", orderJSON(set("amount_paid", `"1e3"`)), "amount_paid"},
		{"null amount", orderJSON(set("amount_paid", `null`)), "amount_paid"},
		{"bad list price", orderJSON(set("list_price", `"abc"`)), "list_price"},
		{"garbage purchase time", orderJSON(set("purchased_at", `"yesterday"`)), "purchased_at"},
		{"purchase time without zone", orderJSON(set("purchased_at", `"2026-11-20 14:05:00"`)), "purchased_at"},
		{"purchase time as a number", orderJSON(set("purchased_at", `1763618700`)), "purchased_at"},
		{"delivered before purchased", orderJSON(set("delivered_at", `"2026-11-20T05:00:00Z"`)), "delivered_at"},
		{"unknown field", orderJSON(set("coupon", `"X"`)), "coupon"},
		{"member name in the wrong case", orderJSON(func(m map[string]string) {
			m["Amount_Paid"] = m["amount_paid"]
			delete(m, "amount_paid")
		}), "Amount_Paid"},
		{"duplicate member", strings.Replace(orderJSON(nil), `"amount_paid":"95.00"`,
			`"amount_paid":"95.00","amount_paid":"9500.00"`, 1), "amount_paid"},
		{"missing contact phone", orderJSON(drop("contact_phone")), "contact_phone"},
		{"short contact phone", orderJSON(set("contact_phone", `"12"`)), "contact_phone"},
		{"missing used", orderJSON(drop("used")), "used"},
		{"used as a string", orderJSON(set("used", `"no"`)), "used"},
		{"missing purchase time", orderJSON(drop("purchased_at")), "purchased_at"},
		{"id with a space", orderJSON(set("id", `"KM 1"`)), "id"},
		{"id as a number", orderJSON(set("id", `20261120001`)), "id"},
		{"buyer as a string", orderJSON(set("buyer_telegram_id", `"1001"`)), "buyer_telegram_id"},
		{"buyer as a fraction", orderJSON(set("buyer_telegram_id", `1001.5`)), "buyer_telegram_id"},
		{"negative buyer", orderJSON(set("buyer_telegram_id", `-5`)), "buyer_telegram_id"},
		{"buyer beyond int64", orderJSON(set("buyer_telegram_id", `99999999999999999999`)), "buyer_telegram_id"},
		{"lower-case currency", orderJSON(set("currency", `"cny"`)), "currency"},
		{"null product", orderJSON(set("product", `null`)), "product"},
		{"product as an object", orderJSON(set("product", `{"name":"x"}`)), "product"},
		{"term as a string", orderJSON(set("term_days", `"30"`)), "term_days"},
		{"fractional term", orderJSON(set("term_days", `1.5`)), "term_days"},
		{"term with exponent", orderJSON(set("term_days", `3e1`)), "term_days"},
		{"null term", orderJSON(set("term_days", `null`)), "term_days"},
		{"negative term", orderJSON(set("term_days", `-1`)), "term_days"},
		{"term beyond ten years", orderJSON(set("term_days", `3661`)), "term_days"},
		{"term beyond int64", orderJSON(set("term_days", `99999999999999999999`)), "term_days"},
		{"activated before purchased", orderJSON(set("activated_at", `"2026-11-20T05:00:00Z"`)), "activated_at"},
		{"garbage activation", orderJSON(set("activated_at", `"soon"`)), "activated_at"},
		{"activation as a number", orderJSON(set("activated_at", `1763618700`)), "activated_at"},
		{"consumed as a number", orderJSON(set("consumed_value", `12.5`)), "consumed_value"},
		{"negative consumed", orderJSON(set("consumed_value", `"-1"`)), "consumed_value"},
		{"null consumed", orderJSON(set("consumed_value", `null`)), "consumed_value"},
		{"progress over 100", orderJSON(set("progress_percent", `101`)), "progress_percent"},
		{"negative progress", orderJSON(set("progress_percent", `-1`)), "progress_percent"},
		{"progress as a string", orderJSON(set("progress_percent", `"50"`)), "progress_percent"},
		{"gift with three decimals", orderJSON(set("gift_value", `"1.001"`)), "gift_value"},
		{"null gift", orderJSON(set("gift_value", `null`)), "gift_value"},
		{"gift returned as a string", orderJSON(set("gift_returned", `"yes"`)), "gift_returned"},
		{"null gift returned", orderJSON(set("gift_returned", `null`)), "gift_returned"},
		{"duplicate optional member", strings.Replace(orderJSON(set("term_days", "30")), `"term_days":30`,
			`"term_days":30,"term_days":3000`, 1), "term_days"},
		{"optional member in the wrong case", orderJSON(set("Gift_Value", `"5.00"`)), "Gift_Value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpapi.DecodeOrder([]byte(tt.data))
			if err == nil {
				t.Fatalf("DecodeOrder(%s) succeeded, want an error on %s", tt.data, tt.wantField)
			}
			if code := refund.ErrorCode(err); code != refund.EINVALID {
				t.Errorf("code = %q, want %q (err: %v)", code, refund.EINVALID, err)
			}
			if f := refund.ErrorField(err); f != tt.wantField {
				t.Errorf("field = %q, want %q (err: %v)", f, tt.wantField, err)
			}
			if strings.Contains(refund.ErrorMessage(err), "13800138000") {
				t.Errorf("message %q repeats the contact phone", refund.ErrorMessage(err))
			}
		})
	}
}

func TestDecodeOrderRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"only whitespace", " \n"},
		{"array", "[" + orderJSON(nil) + "]"},
		{"string", `"KM20261120001"`},
		{"null", "null"},
		{"truncated", strings.TrimSuffix(orderJSON(nil), "}")},
		{"trailing object", orderJSON(nil) + orderJSON(nil)},
		{"trailing garbage", orderJSON(nil) + " x"},
		{"trailing comma", strings.TrimSuffix(orderJSON(nil), "}") + ",}"},
		{"missing colon", `{"id" "KM1"}`},
		{"non-string key", `{1:"KM1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpapi.DecodeOrder([]byte(tt.data))
			if err == nil {
				t.Fatalf("DecodeOrder(%q) succeeded, want an error", tt.data)
			}
			if code := refund.ErrorCode(err); code != refund.EINVALID {
				t.Errorf("code = %q, want %q (err: %v)", code, refund.EINVALID, err)
			}
		})
	}
}

func TestEncodeOrder(t *testing.T) {
	tests := []struct {
		name  string
		order func(o *refund.Order)
		want  string
	}{
		{
			name:  "sample in UTC",
			order: func(*refund.Order) {},
			want: `{"id":"KM20261120001","buyer_telegram_id":1001,"contact_phone":"13800138000",` +
				`"product":"王者荣耀点卡 100元","category":"game_card","amount_paid":"95.00","list_price":"100.00",` +
				`"currency":"CNY","payment_method":"alipay","purchased_at":"2026-11-20T06:05:00Z",` +
				`"delivered_at":"2026-11-20T06:05:10Z","used":false}`,
		},
		{
			name: "unbound and undelivered as null, local times converted",
			order: func(o *refund.Order) {
				o.BuyerTelegramID = 0
				o.DeliveredAt = time.Time{}
				o.PurchasedAt = time.Date(2026, 11, 20, 14, 5, 0, 0, time.FixedZone("CST", 8*3600))
				o.AmountPaid = 5
			},
			want: `{"id":"KM20261120001","buyer_telegram_id":null,"contact_phone":"13800138000",` +
				`"product":"王者荣耀点卡 100元","category":"game_card","amount_paid":"0.05","list_price":"100.00",` +
				`"currency":"CNY","payment_method":"alipay","purchased_at":"2026-11-20T06:05:00Z",` +
				`"delivered_at":null,"used":false}`,
		},
		{
			name: "usage and gift after the required members",
			order: func(o *refund.Order) {
				o.Category = refund.CategoryMembership
				o.Usage = refund.Usage{TermDays: 30, ActivatedAt: time.Date(2026, 11, 20, 15, 0, 0, 0, time.FixedZone("CST", 8*3600)),
					ConsumedValue: 1250, ProgressPercent: 40}
				o.GiftValue, o.GiftReturned = 500, true
			},
			want: `{"id":"KM20261120001","buyer_telegram_id":1001,"contact_phone":"13800138000",` +
				`"product":"王者荣耀点卡 100元","category":"membership","amount_paid":"95.00","list_price":"100.00",` +
				`"currency":"CNY","payment_method":"alipay","purchased_at":"2026-11-20T06:05:00Z",` +
				`"delivered_at":"2026-11-20T06:05:10Z","used":false,"term_days":30,"activated_at":"2026-11-20T07:00:00Z",` +
				`"consumed_value":"12.50","progress_percent":40,"gift_value":"5.00","gift_returned":true}`,
		},
		{
			name:  "gift returned without a value keeps the flag",
			order: func(o *refund.Order) { o.GiftReturned = true },
			want: `{"id":"KM20261120001","buyer_telegram_id":1001,"contact_phone":"13800138000",` +
				`"product":"王者荣耀点卡 100元","category":"game_card","amount_paid":"95.00","list_price":"100.00",` +
				`"currency":"CNY","payment_method":"alipay","purchased_at":"2026-11-20T06:05:00Z",` +
				`"delivered_at":"2026-11-20T06:05:10Z","used":false,"gift_returned":true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sampleOrder()
			tt.order(&o)
			got, err := httpapi.EncodeOrder(o)
			if err != nil {
				t.Fatalf("EncodeOrder: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("EncodeOrder:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestOrderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"sample", orderJSON(nil)},
		{"null optionals", orderJSON(func(m map[string]string) { m["buyer_telegram_id"] = "null"; m["delivered_at"] = "null" })},
		{"nanoseconds and offsets", orderJSON(func(m map[string]string) {
			m["purchased_at"] = `"2026-11-20T14:05:00.123456789+08:00"`
			m["delivered_at"] = `"2026-11-20T01:05:10.5-05:00"`
		})},
		{"zero amounts, used", orderJSON(func(m map[string]string) {
			m["amount_paid"] = `"0"`
			m["list_price"] = `"0.00"`
			m["used"] = "true"
		})},
		{"escapes in text", orderJSON(func(m map[string]string) { m["product"] = `"点卡 \"VIP\" <b>&amp;</b> \\ \u2028"` })},
		{"all usage and gift members", orderJSON(func(m map[string]string) {
			m["category"] = `"membership"`
			m["term_days"] = "3660"
			m["activated_at"] = `"2026-11-20T15:00:00.5+08:00"`
			m["consumed_value"] = `"0.01"`
			m["progress_percent"] = "100"
			m["gift_value"] = `"10000000000"`
			m["gift_returned"] = "false"
		})},
		{"null activation, gift returned without value", orderJSON(func(m map[string]string) {
			m["activated_at"] = "null"
			m["gift_returned"] = "true"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, err := httpapi.DecodeOrder([]byte(tt.data))
			if err != nil {
				t.Fatalf("DecodeOrder: %v", err)
			}
			enc, err := httpapi.EncodeOrder(first)
			if err != nil {
				t.Fatalf("EncodeOrder: %v", err)
			}
			second, err := httpapi.DecodeOrder(enc)
			if err != nil {
				t.Fatalf("DecodeOrder(EncodeOrder(o)) = %v; encoded %s", err, enc)
			}
			if first != second {
				t.Errorf("round trip changed the order:\nfirst  %+v\nsecond %+v\nvia %s", first, second, enc)
			}
		})
	}
}
