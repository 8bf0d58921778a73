package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/refundbot/refundbot/refund/logctx"
)

func TestContextAttributesReachEveryLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() context.Context
		log  func(l *slog.Logger, ctx context.Context)
		want map[string]any
	}{
		{
			name: "the update's IDs on a line that names neither",
			ctx:  func() context.Context { return logctx.With(context.Background(), "chat_id", 42, "update_id", 7) },
			log:  func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
			want: map[string]any{"chat_id": 42.0, "update_id": 7.0},
		},
		{
			name: "added to in steps: the case once known",
			ctx: func() context.Context {
				return logctx.With(logctx.With(context.Background(), "chat_id", 42), slog.String("case", "R-000001"))
			},
			log:  func(l *slog.Logger, ctx context.Context) { l.WarnContext(ctx, "m", "err", "x") },
			want: map[string]any{"chat_id": 42.0, "case": "R-000001", "err": "x"},
		},
		{
			name: "the line's own value wins, once",
			ctx:  func() context.Context { return logctx.With(context.Background(), "chat_id", 42) },
			log:  func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "chat_id", 9) },
			want: map[string]any{"chat_id": 9.0},
		},
		{
			name: "a logger with its own attributes keeps them",
			ctx:  func() context.Context { return logctx.With(context.Background(), "update_id", 1) },
			log:  func(l *slog.Logger, ctx context.Context) { l.With("worker", "notices").InfoContext(ctx, "m") },
			want: map[string]any{"update_id": 1.0, "worker": "notices"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l := slog.New(logctx.Handler{Handler: slog.NewJSONHandler(&buf, nil)})
			tt.log(l, tt.ctx())
			if strings.Count(buf.String(), `"chat_id"`) > 1 {
				t.Fatalf("duplicate key in %s", buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("%s = %v in %s, want %v", k, got[k], buf.String(), v)
				}
			}
		})
	}
}
