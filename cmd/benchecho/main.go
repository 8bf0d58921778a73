// Command benchecho is the echo bot of refundbot's benchmarks as a process
// of its own: BenchmarkDialogProcess builds it, runs it against the same
// fake Bot API and chats as refundbot, and divides refundbot's CPU time per
// update by this one's. It is a measuring stick, not a bot to deploy.
//
// Usage:
//
//	TELEGRAM_BOT_TOKEN=... TELEGRAM_API_ENDPOINT=http://127.0.0.1:PORT/bot%s/%s benchecho
//
// It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/refundbot/refundbot/bot/echobot"
)

// workers is what refundbot's update loop allows by default
// (bot.Config.Workers), so that both handle a batch alike.
const workers = 64

func main() { os.Exit(run()) }

func run() int {
	token, endpoint := os.Getenv("TELEGRAM_BOT_TOKEN"), os.Getenv("TELEGRAM_API_ENDPOINT")
	if token == "" || endpoint == "" {
		fmt.Fprintln(os.Stderr, "benchecho: TELEGRAM_BOT_TOKEN and TELEGRAM_API_ENDPOINT are required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	api, err := echobot.New(token, endpoint, workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchecho:", err)
		return 1
	}
	echobot.Run(ctx, api, workers)
	return 0
}
