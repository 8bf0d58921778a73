// Package shopwebhook hands payouts to the shop: it POSTs each payout
// outbox item to the shop's webhook, signed so that the shop can tell the
// request came from refundbot. Its Deliver fits outbox.Deliver; the
// outbox retries until the shop has taken the payout, and the shop pays
// once per Idempotency-Key however often it is asked.
package shopwebhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/refundbot/refundbot/refund"
)

// The headers of a webhook request besides Content-Type.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Refundbot-Timestamp"
	HeaderSignature      = "X-Refundbot-Signature"
)

// maxResponseBytes bounds how much of a response is read, so that a shop
// answering with a huge error page cannot exhaust memory.
const maxResponseBytes = 64 << 10

// maxQuotedBody bounds how much of the shop's answer an error repeats; the
// outbox keeps the error text with the item and in the logs.
const maxQuotedBody = 512

// defaultTimeout bounds a request when Config.Client is nil. The outbox
// also bounds each delivery by its lease.
const defaultTimeout = 30 * time.Second

// Config is what a Webhook needs.
type Config struct {
	// URL is the shop's webhook, http or https.
	URL string
	// Secret is the key shared with the shop for signing; required.
	Secret []byte
	// Client sends the requests; nil means a client with a 30s timeout.
	// Its redirect policy is replaced: see New.
	Client *http.Client
	// Now is the clock of the timestamp header; nil means time.Now.
	Now func() time.Time
}

// Webhook delivers payout outbox items to the shop. It is safe for
// concurrent use.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

// New returns a webhook for cfg, or an error when the URL or the secret
// is unusable. Redirects are never followed: a 301/302 would turn the
// POST into a bodiless GET that a shop could answer 200 without paying,
// and a payout must not count as delivered then. A redirect is reported
// as an error so that the operator fixes the URL.
func New(cfg Config) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("shop webhook: parse URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("shop webhook: URL %q must be an absolute http or https URL", u.Redacted())
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("shop webhook: a signing secret is required")
	}
	client := &http.Client{Timeout: defaultTimeout}
	if cfg.Client != nil {
		// A shallow copy shares the caller's transport and its connection
		// pool while leaving the caller's own redirect policy alone.
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Webhook{url: cfg.URL, secret: bytes.Clone(cfg.Secret), client: client, now: now}, nil
}

// StatusError is a webhook answer other than success: the shop has not
// taken the payout, and the outbox will ask again.
type StatusError struct {
	PayoutID   string
	StatusCode int
	// Body is the start of the shop's answer, for the operator.
	Body string
}

// Error names the status and says whether the fault is likely the shop's
// passing trouble or a request it refuses, so that a payout stuck on a
// 4xx gets someone's attention instead of being retried unnoticed.
func (e *StatusError) Error() string {
	var what string
	switch {
	case retryable(e.StatusCode):
		what = "shop webhook unavailable"
	case e.StatusCode >= 300 && e.StatusCode < 400:
		what = "shop webhook redirected (not followed; fix the webhook URL)"
	default:
		what = "shop webhook refused the payout (retrying; the shop or the payout needs fixing)"
	}
	msg := fmt.Sprintf("%s: payout %s: HTTP %d %s", what, e.PayoutID, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// retryable reports whether a status is the shop's passing trouble.
func retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Deliver POSTs item's payload to the shop. It returns nil when the shop
// took the payout (2xx) or already had it (409), and an error otherwise,
// which the outbox retries: no answer drops a payout, because the buyer
// would then never be paid.
func (w *Webhook) Deliver(ctx context.Context, item refund.OutboxItem) error {
	if item.Kind != refund.OutboxPayout {
		// A wiring mistake; sending a notice to the shop as a payout
		// would be worse than failing loudly.
		return fmt.Errorf("shop webhook: item %d is a %q item, not a payout", item.ID, item.Kind)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(item.Payload))
	if err != nil {
		return fmt.Errorf("shop webhook: payout %s: build request: %w", item.Key, err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "refundbot")
	h.Set(HeaderIdempotencyKey, item.Key)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign(w.secret, ts, item.Payload))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("shop webhook: payout %s: %w", item.Key, err)
	}
	defer resp.Body.Close()
	// Reading the answer, bounded, also lets the connection be reused. A
	// failed read changes nothing: the status alone decides, and the
	// error shows what did arrive.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
		return nil
	}
	return &StatusError{PayoutID: item.Key, StatusCode: resp.StatusCode, Body: quote(body)}
}

// quote makes the start of a response body fit for a one-line error.
func quote(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " ")
	if len(s) <= maxQuotedBody {
		return s
	}
	cut := maxQuotedBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Sign returns the X-Refundbot-Signature of a request: "sha256=" and the
// hex HMAC-SHA256 of timestamp + "." + body under secret. The timestamp is
// signed with the body so that a captured request cannot be replayed
// under a fresh timestamp.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is Sign(secret, timestamp, body). It
// compares in constant time, so that a forger learns nothing from how long
// a refusal takes. A shop should also refuse timestamps more than a few
// minutes from its clock, to bound how long a captured request stays
// usable.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}
