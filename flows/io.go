package flows

import (
	"context"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// ChatKind tells private chats from groups; the refund dialog runs only in
// private chats, where phone digits and orders stay private.
type ChatKind int

// Chat kinds.
const (
	ChatPrivate ChatKind = iota
	ChatGroup
)

// Input is one thing a user did, stripped of Telegram's shapes.
type Input struct {
	// UpdateIDs are the updates this input came from: one, or several for
	// an album delivered as separate messages.
	UpdateIDs []int
	ChatID    int64
	Chat      ChatKind
	UserID    int64
	FirstName string
	LastName  string
	// Username is the sender's @username without the @, if they have one.
	Username     string
	LanguageCode string
	// MessageID is the message itself (0 for a button press), for an
	// answer that replies to it.
	MessageID int
	// ReplyToMessageID is the message this one answers, in the same chat.
	ReplyToMessageID int
	// ReplyToText is the text (or caption) of the message answered: an
	// agent's reply in their private chat is routed by the escalation the
	// relayed message it answers names.
	ReplyToText string
	// ThreadID is the forum topic the message was written in, 0 outside
	// forums.
	ThreadID int
	// Forward describes where a forwarded message came from.
	Forward *Forward

	Text string
	// Command is the bot command without the slash, lower case; its
	// arguments are in Text. CommandTarget is the "@bot" suffix if any.
	Command       string
	CommandTarget string

	Callback *Callback
	// Files holds the photos and documents of the message or album.
	Files []refund.Evidence
	// Unsupported names content the bot cannot use (sticker, voice, ...).
	Unsupported string
	At          time.Time
}

// Forward is the origin of a forwarded message.
type Forward struct {
	// UserID and Username identify the original sender when Telegram
	// tells; Hidden is set when their privacy settings hide the account
	// and only Name is known.
	UserID   int64
	Username string
	Name     string
	Hidden   bool
}

// Callback is a pressed inline button.
type Callback struct {
	ID        string
	Data      string
	MessageID int
}

// Message is a reply to send.
type Message struct {
	Text    string     `json:"text,omitempty"`
	Buttons [][]Button `json:"buttons,omitempty"`
	// ReplyTo makes the message a reply to that message of the chat.
	ReplyTo int `json:"reply_to,omitempty"`
	// ThreadID sends the message into that forum topic of the chat.
	ThreadID int `json:"thread,omitempty"`
	// File, when set, sends that photo or document again by its Telegram
	// file ID, with Text as its caption.
	File *refund.Evidence `json:"file,omitempty"`
}

// Button is an inline keyboard button: callback data or a URL.
type Button struct {
	Text string `json:"text"`
	Data string `json:"data,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Sender delivers the dialog's replies; the Telegram adapter implements it.
type Sender interface {
	Send(ctx context.Context, chatID int64, m Message) error
	// Post sends like Send and returns the sent message's ID, for
	// messages that later answers must be traced back to.
	Post(ctx context.Context, chatID int64, m Message) (messageID int, err error)
	// PostAlbum sends 2 to 10 files of one kind as one album, with
	// base's reply and topic, and returns the IDs of its messages.
	PostAlbum(ctx context.Context, chatID int64, files []refund.Evidence, base Message) ([]int, error)
	// Edit replaces the text and buttons of a message the bot sent.
	Edit(ctx context.Context, chatID int64, messageID int, m Message) error
	AnswerCallback(ctx context.Context, callbackID, text string) error
	// RemoveKeyboard takes the buttons off a message the buyer pressed, so
	// that old steps cannot be pressed again by accident.
	RemoveKeyboard(ctx context.Context, chatID int64, messageID int) error
}

// ParseID reads a case or escalation ID from callback data: 1 to 18
// decimal digits, so that it fits an int64 and a forged "+5" or "-1" is
// refused rather than read.
func ParseID(arg string) (int64, bool) {
	if len(arg) == 0 || len(arg) > 18 {
		return 0, false
	}
	var id int64
	for _, r := range arg {
		if r < '0' || r > '9' {
			return 0, false
		}
		id = id*10 + int64(r-'0')
	}
	return id, id > 0
}
