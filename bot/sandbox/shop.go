package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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

	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup
	ctx context.Context
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
	if err != nil || !shopwebhook.Verify(s.Secret, r.Header.Get("X-Refundbot-Timestamp"), body, r.Header.Get("X-Refundbot-Signature")) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p refund.PayoutRequest
	if err := json.Unmarshal(body, &p); err != nil || p.PayoutID == "" {
		http.Error(w, "bad payout", http.StatusBadRequest)
		return
	}
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
			s.Logger.WarnContext(s.ctx, "sandbox shop could not confirm a payout", "payout", p.PayoutID, "err", err)
		}
	}()
}

func (s *Shop) confirm(id string) error {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, "http://"+s.API()+"/api/v1/payouts/"+id+"/confirm",
		strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("confirm payout %s: status %d", id, resp.StatusCode)
	}
	return nil
}
