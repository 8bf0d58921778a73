package flows

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// A turn never waits for Telegram's limits: it queues its messages with its
// commit, in the same atomic step that saves the session, and a Dispatcher
// delivers them, each chat's in order, paced by the Sender. A chat whose
// budget is spent (a group's 20 a minute, a buyer's one a second) holds up
// only its own queue, never the handling of the next update.

// Envelope is one message waiting in a chat's send queue.
type Envelope struct {
	ChatID int64   `json:"chat"`
	Msg    Message `json:"msg"`
	// Unbutton, when set, takes the buttons off that message of the chat
	// instead of sending Msg: a pressed menu loses its buttons in order
	// with the replies to the press.
	Unbutton int `json:"unbutton,omitempty"`
	// Link, when set, records the sent message's ID with an escalation,
	// so that a reply to it is traced back to its case.
	Link *Link `json:"link,omitempty"`
	// QueuedAt is when the turn queued the message, for the wait metric.
	QueuedAt time.Time `json:"at"`
	// Fallback, when set, is queued instead if Telegram refuses this
	// message for good: a relay to an agent who blocked the bot goes to
	// the team chat, an agent's words a buyer cannot receive come back to
	// the agent as a notice, rather than vanishing.
	Fallback *Envelope `json:"fallback,omitempty"`
}

// Link ties a sent message to an escalation; Kind says which of the
// escalation's messages it is.
type Link struct {
	Escalation int64    `json:"esc"`
	Kind       LinkKind `json:"-"`
}

// LinkKind is what a linked message is to its escalation.
type LinkKind int8

// The kinds of linked message.
const (
	// LinkRelay is a message in the team chat an agent may answer by
	// replying to it.
	LinkRelay LinkKind = iota
	// LinkCard is the escalation's case card.
	LinkCard
	// LinkPlace is the buyer's message telling their place in the queue,
	// edited in place as it moves.
	LinkPlace
)

// linkJSON is a Link as queued: a flag per kind, so that a queue written
// before kinds existed ("card":true) reads the same, and a replica that
// knows no places (during a rolling deploy) reads one as a plain link
// rather than failing on the whole queue.
type linkJSON struct {
	Escalation int64 `json:"esc"`
	Card       bool  `json:"card,omitempty"`
	Place      bool  `json:"place,omitempty"`
}

// MarshalJSON implements json.Marshaler.
func (l Link) MarshalJSON() ([]byte, error) {
	return json.Marshal(linkJSON{Escalation: l.Escalation, Card: l.Kind == LinkCard, Place: l.Kind == LinkPlace})
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *Link) UnmarshalJSON(b []byte) error {
	var w linkJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*l = Link{Escalation: w.Escalation}
	switch {
	case w.Place:
		l.Kind = LinkPlace
	case w.Card:
		l.Kind = LinkCard
	}
	return nil
}

// Linker records the links of sent messages; the desk implements it.
type Linker interface {
	Link(ctx context.Context, escalationID int64, messageID int, kind LinkKind) error
}

// Batch is a chat's send queue claimed by one dispatcher: Head is its
// first message, Token the claim. While the claim lasts no other replica
// sends to the chat, which keeps its messages in order.
type Batch struct {
	ChatID int64
	Token  int64
	Head   Envelope
	// Then are the messages known to follow Head in the queue (queued
	// by the same commit that claimed the chat): they are sent one after
	// the other, and marked sent together, with no round trip between.
	Then []Envelope
	// Sent counts the messages of this claim sent before Head and not
	// yet marked: Done and Later remove them from the queue with it.
	Sent int
	// Booked are send times booked with the commit that queued the
	// chat's first messages, one per message sent (not per Unbutton), in
	// order; a message past them is booked as it goes.
	Booked []time.Time
	// at is the head's time within the limits, once the dispatcher has
	// it (booked with the commit or by itself).
	at time.Time
}

// Sent is what Done found for one chat: its next message (More), or an
// empty queue, whose claim is then given up, or Err (ErrClaimLost: another
// dispatcher took the chat over).
type Sent struct {
	Next Batch
	More bool
	Err  error
}

// ErrClaimLost means another dispatcher took a chat's queue over (this
// one's claim ran out): it must stop sending to that chat.
var ErrClaimLost = errors.New("send queue claim lost")

// SendQueue keeps the messages waiting for delivery, per chat and in order,
// where every replica sees them, so that they survive a restart and a
// replica's death. The session store implements it, because a turn's
// messages are queued in its Commit.
type SendQueue interface {
	// Enqueue queues messages sent outside a turn (notices, the desk's
	// background work). It returns the chats whose queues it claimed for
	// this replica, those that were empty and idle.
	Enqueue(ctx context.Context, envs []Envelope) ([]Batch, error)
	// Claim takes up to max chats whose messages are due and which no one
	// delivers, each with its first message.
	Claim(ctx context.Context, max int) ([]Batch, error)
	// Done removes each batch's head, sent, and the Sent before it, and
	// answers each chat's next message. The dispatcher calls it from each chat's drainer at once,
	// so a queue should gather concurrent calls into as few round trips
	// as it can (the Redis store's ride on the turns' own). An error
	// means nothing is known of any of them.
	Done(ctx context.Context, bs []Batch) ([]Sent, error)
	// Later gives the claim up until after d: the head could not be sent
	// for now and any replica may try again then; the Sent before it are
	// removed.
	Later(ctx context.Context, b Batch, d time.Duration) error
	// KeepClaims renews the claims of chats still being delivered.
	KeepClaims(ctx context.Context, bs []Batch) error
}
