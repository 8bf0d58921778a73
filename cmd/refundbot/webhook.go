package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/refundbot/refundbot/bot"
)

// webhookCommand runs `refundbot webhook set|delete|info`: an operator
// switching a deployment between webhook and long polling, or checking
// what Telegram has, without starting the bot.
func webhookCommand(ctx context.Context, cfg Config, verb string, out io.Writer) error {
	if cfg.Token == "" {
		return errors.New("webhook: TELEGRAM_BOT_TOKEN is required")
	}
	conn, err := bot.Connect(cfg.Token, cfg.Endpoint, 15*time.Second, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	switch verb {
	case "set":
		if cfg.WebhookURL == "" {
			return errors.New("webhook set: WEBHOOK_URL and WEBHOOK_SECRET are required")
		}
		if err := conn.SetWebhook(ctx, cfg.WebhookURL, cfg.WebhookSecret, 0); err != nil {
			return err
		}
		fmt.Fprintf(out, "webhook set: %s\n", cfg.WebhookURL)
	case "delete":
		if err := conn.DeleteWebhook(ctx); err != nil {
			return err
		}
		fmt.Fprintln(out, "webhook deleted: the bot can long-poll again")
	case "info":
		info, err := conn.WebhookInfo(ctx)
		if err != nil {
			return err
		}
		url := info.URL
		if url == "" {
			url = "(none: long polling)"
		}
		fmt.Fprintf(out, "url: %s\npending updates: %d\nmax connections: %d\n", url, info.PendingUpdateCount, info.MaxConnections)
		if info.LastErrorDate != 0 {
			fmt.Fprintf(out, "last error: %s at %s\n", info.LastErrorMessage, time.Unix(int64(info.LastErrorDate), 0).UTC().Format(time.RFC3339))
		}
	default:
		return fmt.Errorf("webhook: unknown %q; want set, delete or info", verb)
	}
	return nil
}
