package telegramfake

import (
	"sync"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// world is everything the fake knows, and the one mutex that guards it. One lock, because a Bot
// API answer reads several parts at once (a send checks the chat, its topic and the reply target,
// stores a file and tells the subscribers), and each answer must see and leave them consistent.
// Its parts are embedded, each with the helpers that touch only it: chatStore, fileStore
// (files.go), updateQueue (updates.go) and faults (faults.go). What crosses parts is world's own:
// sending a message (methods.go, edits.go), telling waiters and subscribers (observe.go),
// queueing an update (updates.go), refusing a send to a chat that blocked the bot or past the
// limits (limits.go), delivering webhooks (webhook.go).
type world struct {
	done chan struct{} // closed by Close: ends long polls and delays

	// notifyMu serializes subscriber calls so that subscribers see changes one at a time and in
	// the order they happened, without holding mu while foreign code runs.
	notifyMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup // handlers running; Add only under mu while !closed
	changed  chan struct{}  // closed and replaced on every change, to wake waiters

	chatStore
	fileStore
	updateQueue
	faults

	nextQueryNum int64
	queries      map[string]bool // callback query id → answered
	answers      []CallbackAnswer
	calls        map[string]int
	commands     map[string][]tgbotapi.BotCommand

	webhookURL, webhookSecret string
	hook                      webhookState

	subscribers []func(SentMessage)
	events      []SentMessage // waiting to be handed to subscribers, in order
}

func newWorld() *world {
	return &world{
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		chatStore: chatStore{
			nextMessageID: 1,
			chats:         make(map[int64]wireChat),
			members:       make(map[int64]map[int64]Member),
			topics:        make(map[int64][]Topic),
			messages:      make(map[msgKey]*message),
			sentOrder:     make(map[int64][]int),
		},
		fileStore:   fileStore{files: make(map[string]*storedFile), paths: make(map[string]*storedFile)},
		updateQueue: updateQueue{nextUpdateID: 1},
		faults:      faults{failures: make(map[string][]failure), delays: make(map[string][]delay)},
		queries:     make(map[string]bool),
		calls:       make(map[string]int),
		commands:    make(map[string][]tgbotapi.BotCommand),
	}
}

// changedLocked wakes everything waiting for the state to change.
func (s *world) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// chatStore is the world's chats and every message in them, the bot's and the users', with the
// forum topics they are in (guarded by world.mu). Its helpers are beside their users: chatLocked
// in simulate.go, knownChatLocked and replyTargetLocked in methods.go, editableLocked in
// edits.go, the topics' in forum.go.
type chatStore struct {
	nextMessageID int
	chats         map[int64]wireChat
	members       map[int64]map[int64]Member // chat id → user id → what getChatMember reports
	topics        map[int64][]Topic          // chat id → its forum topics in creation order
	messages      map[msgKey]*message
	sentOrder     map[int64][]int // chat id → ids of bot messages in send order
}

type msgKey struct {
	chatID int64
	id     int
}

// message is any message the fake knows, the bot's and the users'.
type message struct {
	msg     wireMessage // as Telegram would return it now; replace fields, never mutate through pointers
	fromBot bool
	deleted bool
	sent    *SentMessage // bot messages only
}
