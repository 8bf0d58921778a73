// Package sandbox lets a person try refundbot in a terminal: they are a
// buyer in a private chat on an in-process fake of the Bot API, and the
// real bot answers through the real tgbotapi client.
package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/refund"
)

// Buyer is the sandbox's buyer; the demo orders are bound to this user.
func Buyer() telegramfake.User {
	return telegramfake.User{ID: BuyerID, FirstName: "沙盒买家", Username: "sandbox_buyer", LanguageCode: "zh-hans"}
}

// BuyerID is the sandbox buyer's Telegram user ID.
const BuyerID int64 = 1001

// DemoOrders are the orders the sandbox starts with, purchased shortly
// before now so that they look recent in the shop's time zone.
func DemoOrders(now time.Time) []refund.Order {
	at := func(hoursAgo int) time.Time {
		return now.Add(-time.Duration(hoursAgo) * time.Hour).UTC().Truncate(time.Minute)
	}
	return []refund.Order{
		{ID: "KM20261120001", BuyerTelegramID: BuyerID, ContactPhone: "13800138000", Product: "王者荣耀点卡 100元",
			Category: refund.CategoryGameCard, AmountPaid: 9500, ListPrice: 10000, Currency: "CNY",
			PaymentMethod: refund.PayAlipay, PurchasedAt: at(20), DeliveredAt: at(20).Add(10 * time.Second)},
		{ID: "KM20261120002", BuyerTelegramID: BuyerID, ContactPhone: "13800138000", Product: "移动话费充值 50元",
			Category: refund.CategoryTopup, AmountPaid: 4980, ListPrice: 5000, Currency: "CNY",
			PaymentMethod: refund.PayWechat, PurchasedAt: at(5), DeliveredAt: at(5).Add(time.Minute)},
		{ID: "KM20261120003", ContactPhone: "13912345678", Product: "腾讯视频VIP 月卡",
			Category: refund.CategoryMembership, AmountPaid: 2500, ListPrice: 3000, Currency: "CNY",
			PaymentMethod: refund.PayBalance, PurchasedAt: at(48), DeliveredAt: at(48).Add(time.Minute)},
		{ID: "KM20261120004", BuyerTelegramID: 2002, ContactPhone: "13700001111", Product: "Windows 11 专业版密钥",
			Category: refund.CategorySoftwareKey, AmountPaid: 8800, ListPrice: 12000, Currency: "CNY",
			PaymentMethod: refund.PayBankCard, PurchasedAt: at(30), DeliveredAt: at(30).Add(time.Minute)},
		// Above the policy's fast lane (¥200): its refund goes to a person,
		// the sandbox's agent.
		{ID: "KM20261120005", BuyerTelegramID: BuyerID, ContactPhone: "13800138000", Product: "Steam 充值卡 300元",
			Category: refund.CategoryGameCard, AmountPaid: 30000, ListPrice: 30000, Currency: "CNY",
			PaymentMethod: refund.PayAlipay, PurchasedAt: at(3), DeliveredAt: at(3).Add(10 * time.Second)},
	}
}

// Terminal is the person's side of the chats: it prints what the bot
// sends to the buyer, the team chat and the agent's private chat, and
// turns typed lines into updates from whoever the person is at the moment
// (:buyer, :agent, :agent private).
type Terminal struct {
	Server *telegramfake.Server
	In     io.Reader
	Out    io.Writer
	// Shop is the pretend shop whose webhook :shop lists; nil lists none.
	Shop *Shop
	// Location is the shop's time zone, which :shop shows times in, as
	// the bot does; nil is UTC.
	Location *time.Location

	mu   sync.Mutex
	role role
	// buttons are the numbered buttons of each chat's latest answer: the
	// keyboards the bot sent there since the person last typed, numbered
	// on from each other, so that a decision's route choice is not hidden
	// by the rating request that follows it.
	buttons map[int64][]buttonRef
	// answered marks the chats whose numbering starts again at 1 with
	// their next keyboard: the person typed since their last one.
	answered map[int64]bool
	// replyTo is, per agent chat, the latest message about a case: the
	// agent's lines answer it, as an agent in Telegram replies under a
	// card or to a relayed message.
	replyTo map[int64]telegramfake.SentMessage
	// texts are what the messages shown said, so that an edit is shown
	// only when it changed the text (the queue board), not the buttons.
	texts map[messageKey]string
	// popups is how many answers to button presses were shown.
	popups int
	// activity is signalled whenever the bot shows something, so that the
	// terminal reads the next line only once the bot has answered: piped
	// input then gives the same transcript as typing.
	activity chan struct{}
}

type messageKey struct {
	chatID    int64
	messageID int
}

type buttonRef struct {
	messageID int
	data      string
	url       string
	// gone is set when the bot took the message's buttons off; the
	// number stays taken, so that the others keep theirs.
	gone bool
}

// PrintIntro prints the demo orders and how to use the terminal.
func (t *Terminal) PrintIntro(orders []refund.Order) {
	fmt.Fprintln(t.Out, "refundbot sandbox — you are the buyer "+Buyer().FirstName+" (Telegram id "+strconv.FormatInt(BuyerID, 10)+").")
	fmt.Fprintln(t.Out, "Demo orders:")
	for _, o := range orders {
		owner := "bound to you"
		switch {
		case o.BuyerTelegramID == 0:
			owner = "unbound: prove it with phone digits " + o.ContactPhone[len(o.ContactPhone)-4:]
		case o.BuyerTelegramID != BuyerID:
			owner = "someone else's"
		}
		fmt.Fprintf(t.Out, "  %s  %-24s %-12s ¥%s  (%s)\n", o.ID, o.Product, o.Category, o.AmountPaid, owner)
	}
	fmt.Fprintln(t.Out, "Type messages as the buyer; a number presses that button; a file path sends the file")
	fmt.Fprintln(t.Out, "(images as photos); :photo, :sticker and :voice send a demo screenshot, sticker, voice note;")
	fmt.Fprintln(t.Out, "/quit or Ctrl-D leaves. Try /start.")
	fmt.Fprintln(t.Out, "A refund above ¥200 (KM20261120005) goes to the desk: :agent makes you the agent "+Agent().FirstName+" in")
	fmt.Fprintln(t.Out, "the team chat, :agent private in their chat with the bot; :buyer switches back; :shop shows")
	fmt.Fprintln(t.Out, "what the shop's webhook received; :help explains the roles.")
	fmt.Fprintln(t.Out)
}

// OpenAgentChat has the agent write /start to the bot in private, as an
// agent does once: the desk relays the chats an agent holds to their
// private chat only after that, since a bot cannot open a private chat.
func (t *Terminal) OpenAgentChat(ctx context.Context) {
	fmt.Fprintln(t.Out, "(The agent opens their private chat with the bot, where the chats they take are relayed.)")
	t.echo(roleAgentPrivate, "/start", nil)
	t.Server.SendText(roleAgentPrivate.chat(), Agent(), "/start")
	t.settle(ctx)
}

// ShopNotified makes the terminal wait for the shop as it waits for the
// bot, so that a payout the bot sends after its answer is in the next
// :shop.
func (t *Terminal) ShopNotified(ShopEvent) { t.signal() }

// printHelp explains the roles.
func (t *Terminal) printHelp() {
	a := Agent()
	fmt.Fprintf(t.Out, `   :buyer          the buyer %s in their chat with the bot, where you start
   :agent          the agent %s (%s) in the team chat: cards, Take, /queue, /next
   :agent private  the agent in their private chat with the bot, where held chats are relayed
   As the agent, a line replies to the chat's latest message about a case (a card or what the
   bot put under it; a relayed "#N" message), as swiping to reply does in Telegram.
   In every role: a number presses that button of the bot's latest answer in your chat, a file
   path sends the file, :photo, :sticker and :voice send demo ones. :shop lists what the shop's
   webhook received.
`, Buyer().FirstName, a.FirstName, DeskAgent().StaffNumber)
}

// Show prints a bot message, naming the chat it went to, and numbers its
// buttons.
func (t *Terminal) Show(m telegramfake.SentMessage) {
	r, shown := roleOf(m.ChatID)
	if !shown || m.Deleted {
		return
	}
	defer t.signal()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initLocked()
	key := messageKey{m.ChatID, m.MessageID}
	edited := ""
	if m.Edits > 0 {
		if len(m.Keyboard) == 0 {
			t.buttonsGoneLocked(m.ChatID, m.MessageID)
		}
		if old, seen := t.texts[key]; !seen || old == m.Text {
			return
		}
		edited = "✎ "
	}
	t.texts[key] = m.Text
	if edited == "" && aboutCase(r, m) {
		t.replyTo[m.ChatID] = m
	}
	var b strings.Builder
	b.WriteString("\n🤖 " + r.label() + " " + edited)
	text := m.Text
	if m.FileKind != "" {
		text = strings.TrimSpace("(" + m.FileKind + ") " + text)
	}
	b.WriteString(strings.ReplaceAll(text, "\n", "\n   "))
	b.WriteString("\n")
	if len(m.Keyboard) > 0 {
		bs := t.buttons[m.ChatID]
		if t.answered[m.ChatID] {
			bs, t.answered[m.ChatID] = nil, false
		}
		for _, row := range m.Keyboard {
			for _, btn := range row {
				bs = append(bs, buttonRef{messageID: m.MessageID, data: btn.CallbackData, url: btn.URL})
				fmt.Fprintf(&b, "   [%d] %s\n", len(bs), btn.Text)
			}
		}
		t.buttons[m.ChatID] = bs
		if r != t.role {
			fmt.Fprintf(&b, "   (%s to press these)\n", r.command())
		}
	}
	io.WriteString(t.Out, b.String())
}

// buttonsGoneLocked drops the buttons the bot took off a message (the
// one pressed); the chat's numbering ends when none is left.
func (t *Terminal) buttonsGoneLocked(chatID int64, messageID int) {
	bs, left := t.buttons[chatID], false
	for i := range bs {
		if bs[i].messageID == messageID {
			bs[i].gone = true
		}
		left = left || !bs[i].gone
	}
	if !left {
		delete(t.buttons, chatID)
	}
}

func (t *Terminal) initLocked() {
	if t.buttons == nil {
		t.buttons = make(map[int64][]buttonRef)
		t.answered = make(map[int64]bool)
		t.replyTo = make(map[int64]telegramfake.SentMessage)
		t.texts = make(map[messageKey]string)
	}
}

func (t *Terminal) activityChan() chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.activity == nil {
		t.activity = make(chan struct{}, 1)
	}
	return t.activity
}

func (t *Terminal) signal() {
	select {
	case t.activityChan() <- struct{}{}:
	default:
	}
}

// settle waits for the bot's answer: the first sign of it (up to 5 s),
// then until it has been quiet for a moment.
func (t *Terminal) settle(ctx context.Context) {
	wait := 5 * time.Second
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-t.activityChan():
			timer.Stop()
			wait = 300 * time.Millisecond
		case <-timer.C:
			return
		}
	}
}

// Run reads lines until /quit, end of input or ctx ends.
func (t *Terminal) Run(ctx context.Context) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(t.In)
		sc.Buffer(make([]byte, 64*1024), 64*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok || strings.TrimSpace(line) == "/quit" {
				return nil
			}
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if t.local(line) {
				continue // nothing went to the bot: no answer to wait for
			}
			t.answeredAll()
			answered := len(t.Server.CallbackAnswers())
			pressed, err := t.typed(line)
			if err != nil {
				fmt.Fprintf(t.Out, "   (%v)\n", err)
				continue
			}
			t.settle(ctx)
			if pressed {
				t.awaitPopup(ctx, answered)
			}
			t.showPopups()
		}
	}
}

// awaitPopup waits a moment for the bot's answer to a button press, past
// the answer's messages: the bot answers every press, and the popup
// belongs to the press, not to whatever is typed next.
func (t *Terminal) awaitPopup(ctx context.Context, answered int) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_ = t.Server.WaitFor(ctx, func(s *telegramfake.Server) bool { return len(s.CallbackAnswers()) > answered })
}

// showPopups prints the answers to button presses that came since the
// last look: the short notice Telegram shows whoever pressed, which is
// the person, in their role now.
func (t *Terminal) showPopups() {
	answers := t.Server.CallbackAnswers()
	t.mu.Lock()
	from, r := t.popups, t.role
	t.popups = len(answers)
	t.mu.Unlock()
	for _, a := range answers[min(from, len(answers)):] {
		if a.Text != "" {
			fmt.Fprintf(t.Out, "\n🤖 %s (popup) %s\n", r.label(), a.Text)
		}
	}
}

// answeredAll starts every chat's button numbering again with its next
// keyboard: what the bot sends next answers the line typed now.
func (t *Terminal) answeredAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.initLocked()
	for chatID := range t.buttons {
		t.answered[chatID] = true
	}
}
