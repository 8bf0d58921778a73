// Command refundbot is a Telegram customer-service bot that handles refunds
// for digital-goods shops. With no TELEGRAM_BOT_TOKEN it starts a sandbox:
// a terminal chat against the same dialogs, with nothing to set up.
//
// Usage:
//
//	refundbot                     run the bot (or the sandbox)
//	refundbot import-orders FILE  load orders from a JSON-lines file
//	refundbot agents add USER_ID NAME STAFF_NO [@username]
//	refundbot agents remove USER_ID
//	refundbot agents list
//	refundbot webhook set|delete|info   point Telegram at WEBHOOK_URL, back to polling, or show
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the distroless image has no zoneinfo; SHOP_TIMEZONE must still load

	"github.com/refundbot/refundbot/refund/logctx"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// sandboxLogger logs errors only, as the JSON lines every mode writes: the
// terminal is the sandbox's screen.
func sandboxLogger(w io.Writer) *slog.Logger {
	return slog.New(logctx.Handler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelError})})
}

func run(args []string) int {
	cfg, err := ConfigFromEnv(os.Getenv)
	var cfgErr *configError
	if errors.As(err, &cfgErr) {
		for _, p := range cfgErr.problems {
			fmt.Fprintln(os.Stderr, "refundbot:", p)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(logctx.Handler{Handler: slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})})

	switch {
	case len(args) == 0:
		m := &Main{Config: cfg, Logger: logger, Stdin: os.Stdin, Stdout: os.Stdout}
		if cfg.Sandbox() {
			// The terminal is the sandbox's screen: keep logs out of it.
			m.Logger = sandboxLogger(os.Stderr)
		}
		if err := m.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "refundbot:", err)
			return 1
		}
		return 0
	case args[0] == "import-orders" && len(args) == 2:
		if cfg.DatabaseURL == "" {
			fmt.Fprintln(os.Stderr, "refundbot: DATABASE_URL is required for import-orders")
			return 2
		}
		if err := importOrders(ctx, cfg, args[1], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "refundbot:", err)
			return 1
		}
		return 0
	case args[0] == "webhook" && len(args) == 2:
		if err := webhookCommand(ctx, cfg, args[1], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "refundbot:", err)
			return 1
		}
		return 0
	case args[0] == "agents":
		if cfg.DatabaseURL == "" {
			fmt.Fprintln(os.Stderr, "refundbot: DATABASE_URL is required for agents")
			return 2
		}
		db, err := openPostgres(ctx, cfg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "refundbot:", err)
			return 1
		}
		defer db.Close()
		if err := agentsCommand(ctx, db, args[1:], os.Stdout, cfg.Location); err != nil {
			fmt.Fprintln(os.Stderr, "refundbot:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "usage: refundbot [import-orders FILE | agents add|remove|list | webhook set|delete|info]")
	return 2
}
