// Package httpapi is the shop's way into refundbot: the JSON format of an
// order, a JSON-lines importer for the import-orders command, and the HTTP
// API through which a shop pushes its orders, reads refund cases and
// settles payouts (documented in openapi.yaml).
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// orderJSON is the wire shape of an order. Amounts are strings so that no
// float ever touches money; buyer and delivery are pointers so that an
// unbound or undelivered order is written as an explicit null. The usage
// and gift members apply to some categories only and are left out when
// zero, so that a game card's order does not carry a membership's term.
type orderJSON struct {
	ID              string  `json:"id"`
	BuyerTelegramID *int64  `json:"buyer_telegram_id"`
	ContactPhone    string  `json:"contact_phone"`
	Product         string  `json:"product"`
	Category        string  `json:"category"`
	AmountPaid      string  `json:"amount_paid"`
	ListPrice       string  `json:"list_price"`
	Currency        string  `json:"currency"`
	PaymentMethod   string  `json:"payment_method"`
	PurchasedAt     string  `json:"purchased_at"`
	DeliveredAt     *string `json:"delivered_at"`
	Used            bool    `json:"used"`
	TermDays        int     `json:"term_days,omitempty"`
	ActivatedAt     *string `json:"activated_at,omitempty"`
	ConsumedValue   string  `json:"consumed_value,omitempty"`
	ProgressPercent int     `json:"progress_percent,omitempty"`
	GiftValue       string  `json:"gift_value,omitempty"`
	GiftReturned    bool    `json:"gift_returned,omitempty"`
}

// maxQuotedName bounds how much of an unknown member name is echoed in an
// error, so that a hostile key cannot blow up responses and logs.
const maxQuotedName = 64

// memberRequired reports whether name is a member of the order JSON and, if
// so, whether it must be present.
func memberRequired(name string) (required, known bool) {
	switch name {
	case "buyer_telegram_id", "delivered_at", "term_days", "activated_at", "consumed_value",
		"progress_percent", "gift_value", "gift_returned":
		return false, true
	case "id", "contact_phone", "product", "category", "amount_paid", "list_price",
		"currency", "payment_method", "purchased_at", "used":
		return true, true
	}
	return false, false
}

// requiredMembers lists the required members in document order, so that
// the first missing one reported is the first one a reader of the format
// would look for.
func requiredMembers() []string {
	return []string{"id", "contact_phone", "product", "category", "amount_paid", "list_price",
		"currency", "payment_method", "purchased_at", "used"}
}

// DecodeOrder parses one order in the shop's JSON format and validates it.
// Every failure is a refund EINVALID error; when a member is to blame,
// refund.ErrorField names it.
//
// Decoding is stricter than encoding/json's defaults: member names must
// match exactly (encoding/json would accept "Amount_Paid") and may appear
// only once (encoding/json would let the last of two amount_paid members
// win), because a shop's typo must not silently change an amount. The ID is
// normalized with refund.NormalizeOrderID, the same way the bot normalizes
// what a buyer types, so that the two always meet. Times are kept in UTC.
func DecodeOrder(data []byte) (refund.Order, error) {
	var o refund.Order
	known := func(name string) bool { _, known := memberRequired(name); return known }
	seen, err := decodeObject(data, "order", known, func(name string, raw json.RawMessage) error {
		return decodeMember(&o, name, raw)
	})
	if err != nil {
		return refund.Order{}, err
	}
	for _, name := range requiredMembers() {
		if !seen[name] {
			return refund.Order{}, refund.FieldError(name, "%s is required", name)
		}
	}
	if err := o.Validate(); err != nil {
		return refund.Order{}, err
	}
	return o, nil
}

// decodeObject reads data as one JSON object of the members known allows,
// handing each member's raw value to member, and returns the names seen.
// Member names must match exactly and appear only once, because
// encoding/json's leniency (case-insensitive names, the last duplicate
// wins) would let a typo silently change a value. Every failure is an
// EINVALID error, naming the member when one is to blame; subject names
// the object in messages.
func decodeObject(data []byte, subject string, known func(name string) bool, member func(name string, raw json.RawMessage) error) (map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	if tok != json.Delim('{') {
		return nil, refund.Errorf(refund.EINVALID, "the %s must be a JSON object", subject)
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		// In key position the decoder yields only strings; anything else
		// was already reported as a syntax error above.
		name, _ := tok.(string)
		if !known(name) {
			return nil, refund.FieldError(truncate(name, maxQuotedName), "unknown field %q", truncate(name, maxQuotedName))
		}
		if seen[name] {
			return nil, refund.FieldError(name, "%s appears more than once", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err)
		}
		if err := member(name, raw); err != nil {
			return nil, err
		}
	}
	if tok, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	} else if tok != json.Delim('}') {
		// More reports false only before '}' or an error, so this is a
		// defensive check rather than an expected path.
		return nil, refund.Errorf(refund.EINVALID, "malformed JSON: expected end of object")
	}
	if len(bytes.Trim(data[dec.InputOffset():], " \t\r\n")) != 0 {
		return nil, refund.Errorf(refund.EINVALID, "unexpected data after the %s object", subject)
	}
	return seen, nil
}

// decodeMember stores one member's value in o. Type errors are reported
// here, where the member's name is known, rather than recovered from
// encoding/json's error text.
func decodeMember(o *refund.Order, name string, raw json.RawMessage) error {
	isNull := bytes.Equal(raw, []byte("null"))
	switch name {
	case "buyer_telegram_id":
		if isNull {
			o.BuyerTelegramID = 0
			return nil
		}
		if err := json.Unmarshal(raw, &o.BuyerTelegramID); err != nil {
			return refund.FieldError(name, "%s must be an integer Telegram user id or null", name)
		}
		return nil
	case "delivered_at", "activated_at":
		t := time.Time{}
		if !isNull {
			var err error
			if t, err = decodeTime(name, raw); err != nil {
				return err
			}
		}
		if name == "delivered_at" {
			o.DeliveredAt = t
		} else {
			o.Usage.ActivatedAt = t
		}
		return nil
	case "purchased_at":
		t, err := decodeTime(name, raw)
		o.PurchasedAt = t
		return err
	case "used", "gift_returned":
		var b bool
		if isNull || json.Unmarshal(raw, &b) != nil {
			return refund.FieldError(name, "%s must be true or false", name)
		}
		if name == "used" {
			o.Used = b
		} else {
			o.GiftReturned = b
		}
		return nil
	case "term_days", "progress_percent":
		// Unmarshalling into an int refuses fractions, exponents and
		// strings, so 1.5 days cannot round silently; the range is
		// Validate's.
		var n int
		if isNull || json.Unmarshal(raw, &n) != nil {
			return refund.FieldError(name, "%s must be an integer", name)
		}
		if name == "term_days" {
			o.Usage.TermDays = n
		} else {
			o.Usage.ProgressPercent = n
		}
		return nil
	case "amount_paid", "list_price", "consumed_value", "gift_value":
		var s string
		if isNull || json.Unmarshal(raw, &s) != nil {
			return refund.FieldError(name, "%s must be a decimal string such as \"95.00\"", name)
		}
		m, err := refund.ParseMoney(s)
		if err != nil {
			return refund.FieldError(name, "%s must be a non-negative decimal string with at most two decimals, such as \"95.00\"", name)
		}
		switch name {
		case "amount_paid":
			o.AmountPaid = m
		case "list_price":
			o.ListPrice = m
		case "consumed_value":
			o.Usage.ConsumedValue = m
		case "gift_value":
			o.GiftValue = m
		}
		return nil
	}
	var s string
	if isNull || json.Unmarshal(raw, &s) != nil {
		return refund.FieldError(name, "%s must be a string", name)
	}
	switch name {
	case "id":
		o.ID = refund.NormalizeOrderID(s)
	case "contact_phone":
		o.ContactPhone = s
	case "product":
		o.Product = s
	case "category":
		o.Category = refund.Category(s)
	case "currency":
		o.Currency = s
	case "payment_method":
		o.PaymentMethod = refund.PaymentMethod(s)
	}
	return nil
}

func decodeTime(name string, raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, refund.FieldError(name, "%s must be an RFC 3339 time string", name)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, refund.FieldError(name, "%s must be an RFC 3339 time such as \"2026-11-20T14:05:00+08:00\"", name)
	}
	return t.UTC(), nil
}

// syntaxError turns a tokenizer error into an EINVALID error. The decoder
// reads from memory, so every error it returns is about the input.
func syntaxError(err error) *refund.Error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return refund.Errorf(refund.EINVALID, "malformed JSON: unexpected end of input")
	case errors.As(err, &se):
		return refund.Errorf(refund.EINVALID, "malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	return refund.Errorf(refund.EINVALID, "malformed JSON: %s", err.Error())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cutting bytes may split a rune; %q then shows the stray bytes
	// escaped, which is fine for a diagnostic.
	return s[:n] + "…"
}

// EncodeOrder writes an order in the format DecodeOrder reads: amounts as
// "95.00" strings, times in RFC 3339 UTC (with fractions of a second only
// when there are any), null for an unbound buyer or an undelivered order,
// and no usage or gift member that is zero (absent reads as zero). It is
// the inverse of DecodeOrder for every order DecodeOrder returns.
func EncodeOrder(o refund.Order) ([]byte, error) {
	w := orderJSON{
		ID:            o.ID,
		ContactPhone:  o.ContactPhone,
		Product:       o.Product,
		Category:      string(o.Category),
		AmountPaid:    o.AmountPaid.String(),
		ListPrice:     o.ListPrice.String(),
		Currency:      o.Currency,
		PaymentMethod: string(o.PaymentMethod),
		PurchasedAt:   o.PurchasedAt.UTC().Format(time.RFC3339Nano),
		Used:          o.Used,
		// The ints and the bool are left out by omitempty when zero.
		TermDays:        o.Usage.TermDays,
		ProgressPercent: o.Usage.ProgressPercent,
		GiftReturned:    o.GiftReturned,
	}
	if o.BuyerTelegramID != 0 {
		id := o.BuyerTelegramID
		w.BuyerTelegramID = &id
	}
	if !o.DeliveredAt.IsZero() {
		s := o.DeliveredAt.UTC().Format(time.RFC3339Nano)
		w.DeliveredAt = &s
	}
	if !o.Usage.ActivatedAt.IsZero() {
		s := o.Usage.ActivatedAt.UTC().Format(time.RFC3339Nano)
		w.ActivatedAt = &s
	}
	if o.Usage.ConsumedValue != 0 {
		w.ConsumedValue = o.Usage.ConsumedValue.String()
	}
	if o.GiftValue != 0 {
		w.GiftValue = o.GiftValue.String()
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode order %q: %w", o.ID, err)
	}
	return b, nil
}
