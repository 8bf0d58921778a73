// Package logctx carries log attributes in a context, so that every line
// logged while an update is handled names its chat and its update (and a
// case, once one is known) without each call repeating them.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// With returns ctx carrying args (slog's key-value pairs or slog.Attrs)
// as well as those it carried already.
func With(ctx context.Context, args ...any) context.Context {
	prev, _ := ctx.Value(key{}).([]slog.Attr)
	rec := slog.Record{}
	rec.Add(args...)
	attrs := make([]slog.Attr, 0, len(prev)+rec.NumAttrs())
	attrs = append(attrs, prev...)
	rec.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	return context.WithValue(ctx, key{}, attrs)
}

// Handler adds the context's attributes to every record, except those the
// record names itself: a call that logs chat_id keeps its own value, and
// the line has no duplicate keys.
type Handler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	attrs, _ := ctx.Value(key{}).([]slog.Attr)
	if len(attrs) > 0 {
		own := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool {
			own[a.Key] = true
			return true
		})
		for _, a := range attrs {
			if !own[a.Key] {
				r.AddAttrs(a)
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h Handler) WithGroup(name string) slog.Handler {
	return Handler{h.Handler.WithGroup(name)}
}
