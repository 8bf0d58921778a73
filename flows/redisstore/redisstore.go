// Package redisstore keeps dialog sessions, chat leases, handled-update
// marks, flood counters and ownership-proof lockouts in Redis. Everything a
// chat needs per update is two scripts: one takes the lease and reads, one
// writes and gives the lease back.
package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
)

// Defaults for how long keys live and how much a chat may send.
const (
	// DefaultUpdateMarkTTL outlives Telegram's 24 h redelivery window.
	DefaultUpdateMarkTTL = 48 * time.Hour
	// DefaultLeaseTTL bounds how long a crashed replica can keep a chat
	// waiting; a live one extends its lease long before it runs out.
	DefaultLeaseTTL = 10 * time.Second
	// DefaultFloodLimit inputs within DefaultFloodWindow is far more than
	// a person types or taps; past it a chat's inputs are dropped.
	DefaultFloodLimit  = 40
	DefaultFloodWindow = time.Minute
	// sessionGrace keeps an expired session long enough to tell the buyer
	// that their half-filled request expired.
	sessionGrace = 7 * 24 * time.Hour
	// maxLeaseWait bounds one wait for a busy chat between two reads of
	// its lease's remaining time.
	maxLeaseWait = 50 * time.Millisecond
)

// Store implements flows.SessionStore, flows.SendQueue,
// flows.OwnershipAttempts, flows.EscalationMarks and flows.AgentChats, and
// keeps the webhook's albums. Each of those is a part of its own, embedded
// so that its methods are the Store's: sessions (sessions.go), sendQueue
// (sendqueue.go), albums (album.go), attempts (attempts.go) and marks
// (marks.go). They share one client and one set of key names (keys.go).
type Store struct {
	sessions
	sendQueue
	albums
	attempts
	marks
}

// conn is what every part of the Store shares: the client, the names of
// the keys, and the lease, flood and TTL settings fixed by New.
type conn struct {
	rdb redis.UniversalClient
	keys
	opts    Options
	markTTL time.Duration
}

// Options tunes the chat lease and the flood limit; zero fields take the
// defaults.
type Options struct {
	// LeaseTTL is how long a chat's lease lasts unless extended.
	LeaseTTL time.Duration
	// FloodLimit inputs per FloodWindow are handled; the rest are dropped.
	FloodLimit  int
	FloodWindow time.Duration
	// ClaimTTL is how long a dispatcher's claim of a chat's send queue
	// lasts unless renewed; zero takes LeaseTTL.
	ClaimTTL time.Duration
	// Booker, when set, books a private chat's replies with the send
	// limiter in the round trip that commits its turn (Batch.Booked), so
	// that the dispatcher sending them needs no round trip of its own.
	// Groups are not booked so: the team chat's queue is often busy, and
	// a booking its messages do not use in time is wasted budget.
	Booker Booker
	// DoneWait is how long the mark of a sent message, or a poll of the
	// send queues, waits for a turn's round trip to ride on before it
	// takes one of its own (DefaultDoneWait if zero).
	DoneWait time.Duration
}

// Booker queues a booking of sends on a pipeline; sendlimit.Limiter
// implements it.
type Booker interface {
	QueueReserve(ctx context.Context, pipe redis.Pipeliner, chatID int64, n int) (read func() ([]time.Duration, error))
}

// New returns a store whose keys all start with prefix (e.g. "refundbot:"),
// so that tests and deployments can share a Redis. idleTTL is the dialog's
// idle timeout; keys live a grace period longer.
func New(rdb redis.UniversalClient, prefix string, idleTTL time.Duration) *Store {
	return NewWithOptions(rdb, prefix, idleTTL, Options{})
}

// NewWithOptions is New with the lease and flood limit set.
func NewWithOptions(rdb redis.UniversalClient, prefix string, idleTTL time.Duration, opts Options) *Store {
	if idleTTL <= 0 {
		idleTTL = flows.DefaultIdleTTL
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.FloodLimit <= 0 {
		opts.FloodLimit = DefaultFloodLimit
	}
	if opts.FloodWindow <= 0 {
		opts.FloodWindow = DefaultFloodWindow
	}
	if opts.DoneWait <= 0 {
		opts.DoneWait = DefaultDoneWait
	}
	c := conn{rdb: rdb, keys: keys{prefix: prefix}, opts: opts, markTTL: DefaultUpdateMarkTTL}
	q := sendQueue{conn: c, rides: &rides{wait: opts.DoneWait}}
	return &Store{
		sessions:  sessions{conn: c, sessionTTL: idleTTL + sessionGrace, queue: q},
		sendQueue: q,
		albums:    albums{c},
		attempts:  attempts{c},
		marks:     marks{c},
	}
}
