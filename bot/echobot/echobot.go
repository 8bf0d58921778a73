// Package echobot is the reference the benchmarks hold refundbot against:
// the least a bot can do per update on the same client library and the
// same Bot API, a getUpdates and a sendMessage echoing the text back.
// cmd/refundbot's BenchmarkDialog runs it in the benchmark's process for
// the rate, and cmd/benchecho runs it as a process of its own for the CPU
// time per update; both share this loop, so that they measure one thing.
package echobot

import (
	"context"
	"net/http"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// New returns a tgbotapi client of endpoint (tgbotapi's format) whose
// transport keeps workers idle connections per host, as bot.Connect's
// does: with Go's default of two the reference would dial a connection
// for most replies and pay for a handshake the bot does not.
func New(token, endpoint string, workers int) (*tgbotapi.BotAPI, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = workers
	client := &http.Client{Timeout: 30 * time.Second, Transport: transport}
	return tgbotapi.NewBotAPIWithClient(token, endpoint, client)
}

// Run echoes every message api receives into its chat until ctx ends.
// Like refundbot's update loop it handles a batch's updates concurrently,
// workers at a time, and polls again once the whole batch is answered.
// A failed call is tried again at the next poll: the reference never
// stops on an error the benchmark would not see.
func Run(ctx context.Context, api *tgbotapi.BotAPI, workers int) {
	offset := 0
	slots := make(chan struct{}, workers)
	for ctx.Err() == nil {
		updates, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Limit: 100, Timeout: 1})
		if err != nil {
			continue
		}
		var wg sync.WaitGroup
		for _, u := range updates {
			offset = u.UpdateID + 1
			if u.Message == nil {
				continue
			}
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				_, _ = api.Send(tgbotapi.NewMessage(u.Message.Chat.ID, u.Message.Text))
			})
		}
		wg.Wait()
	}
}
