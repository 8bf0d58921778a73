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
	UpdateIDs    []int
	ChatID       int64
	Chat         ChatKind
	UserID       int64
	FirstName    string
	LanguageCode string

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

// Callback is a pressed inline button.
type Callback struct {
	ID        string
	Data      string
	MessageID int
}

// Message is a reply to send.
type Message struct {
	Text    string
	Buttons [][]Button
}

// Button is an inline keyboard button: callback data or a URL.
type Button struct {
	Text string
	Data string
	URL  string
}

// Sender delivers the dialog's replies; the Telegram adapter implements it.
type Sender interface {
	Send(ctx context.Context, chatID int64, m Message) error
	AnswerCallback(ctx context.Context, callbackID, text string) error
	// RemoveKeyboard takes the buttons off a message the buyer pressed, so
	// that old steps cannot be pressed again by accident.
	RemoveKeyboard(ctx context.Context, chatID int64, messageID int) error
}
