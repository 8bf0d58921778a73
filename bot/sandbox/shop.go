package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/shopwebhook"
)

// Shop plays the shop's side of payouts in the sandbox: it takes the
// signed payout webhook and, a moment later, confirms the payout through
// the shop API, the way a real shop's payment system would.
type Shop struct {
	// Secret verifies the webhook's signature; Token authorizes the
	// confirmation.
	Secret []byte
	Token  string
	// API returns the bot's HTTP address once it is known.
	API    func() string
	Delay  time.Duration
	Logger *slog.Logger
	// Notify, when set, hears of every event as it happens (the terminal
	// waits for the shop as it waits for the bot); it must not block.
	Notify func(ShopEvent)

	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup
	ctx context.Context

	mu     sync.Mutex
	events []ShopEvent
}

// ShopEvent is one thing that happened at the shop's webhook.
type ShopEvent struct {
	At time.Time
	// Kind is ShopPayout, ShopConfirmed, ShopConfirmFailed or ShopRefused.
	Kind   string
	Payout refund.PayoutRequest
	// Problem says why a request was refused or a confirmation failed.
	Problem string
}

// The kinds of ShopEvent.
const (
	// ShopPayout is a signed payout the webhook took.
	ShopPayout = "payout"
	// ShopConfirmed is the shop telling the bot, through the shop API,
	// that it paid a payout.
	ShopConfirmed = "confirmed"
	// ShopConfirmFailed is a confirmation the shop API did not take.
	ShopConfirmFailed = "confirm failed"
	// ShopRefused is a request the webhook turned away: a bad signature
	// or body.
	ShopRefused = "refused"
)

// Format is the event on one line, its time in loc (nil: UTC), as the
// sandbox's :shop shows it.
func (e ShopEvent) Format(loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	p := e.Payout
	line := fmt.Sprintf("%s  %-9s", e.At.In(loc).Format("15:04:05"), e.Kind)
	switch e.Kind {
	case ShopPayout:
		line += fmt.Sprintf(" %s  %s %s  %s  order %s  payout %s", p.Case, p.Amount, p.Currency, p.Method, p.OrderID, p.PayoutID)
		if p.Account != "" {
			line += "  to the new account " + p.Account
		}
	case ShopConfirmed:
		line += fmt.Sprintf(" %s  payout %s: the shop told the bot it paid", p.Case, p.PayoutID)
	default:
		if p.PayoutID != "" {
			line += fmt.Sprintf(" %s  payout %s:", p.Case, p.PayoutID)
		}
		line += " " + e.Problem
	}
	return line
}

// Events lists what happened at the webhook, oldest first.
func (s *Shop) Events() []ShopEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

func (s *Shop) record(ev ShopEvent) {
	ev.At = time.Now()
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	if s.Notify != nil {
		s.Notify(ev)
	}
}

// Start listens on a loopback port and returns the webhook URL.
func (s *Shop) Start(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("sandbox shop: %w", err)
	}
	s.ln, s.ctx = ln, ctx
	s.srv = &http.Server{Handler: http.HandlerFunc(s.payout), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close
	return "http://" + ln.Addr().String() + "/payouts", nil
}

// Close stops the shop and waits for pending confirmations.
func (s *Shop) Close() error {
	err := s.srv.Close()
	s.wg.Wait()
	return err
}

func (s *Shop) payout(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || !shopwebhook.Verify(s.Secret, r.Header.Get(shopwebhook.HeaderTimestamp), body, r.Header.Get(shopwebhook.HeaderSignature)) {
		s.record(ShopEvent{Kind: ShopRefused, Problem: "bad signature (401)"})
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p refund.PayoutRequest
	if err := json.Unmarshal(body, &p); err != nil || p.PayoutID == "" {
		s.record(ShopEvent{Kind: ShopRefused, Problem: "not a payout (400)"})
		http.Error(w, "bad payout", http.StatusBadRequest)
		return
	}
	s.record(ShopEvent{Kind: ShopPayout, Payout: p})
	w.WriteHeader(http.StatusAccepted)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(s.Delay):
		}
		if err := s.confirm(p.PayoutID); err != nil {
			if s.ctx.Err() != nil {
				return // the sandbox is closing
			}
			s.Logger.WarnContext(s.ctx, "sandbox shop could not confirm a payout", "payout", p.PayoutID, "err", err)
			s.record(ShopEvent{Kind: ShopConfirmFailed, Payout: p, Problem: err.Error()})
			return
		}
		s.record(ShopEvent{Kind: ShopConfirmed, Payout: p})
	}()
}

func (s *Shop) confirm(id string) error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, "http://"+s.API()+"/api/v1/payouts/"+id+"/confirm",
		strings.NewReader("{}"))
	if err != nil {
		return fmt.Errorf("confirm payout %s: %w", id, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("confirm payout %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("confirm payout %s: status %d", id, resp.StatusCode)
	}
	return nil
}
