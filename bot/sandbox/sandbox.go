// Package sandbox lets a person try refundbot in a terminal: they are a
// buyer in a private chat on an in-process fake of the Bot API, and the
// real bot answers through the real tgbotapi client.
package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// local runs a line meant for the terminal itself (a role switch, :help,
// :shop) and reports whether it was one. An unknown ":word" is one too,
// with a hint, so that a mistyped role does not reach the bot as a
// message from the wrong person.
func (t *Terminal) local(line string) bool {
	if len(line) < 2 || line[0] != ':' || line[1] < 'a' || line[1] > 'z' || line == ":photo" || line == ":sticker" || line == ":voice" {
		return false
	}
	fmt.Fprintln(t.Out, "\n> "+line)
	if r, ok := parseRole(line); ok {
		t.mu.Lock()
		t.role = r
		t.mu.Unlock()
		switch r {
		case roleBuyer:
			fmt.Fprintln(t.Out, "   (you are the buyer "+Buyer().FirstName+", in their chat with the bot)")
		case roleTeam:
			fmt.Fprintln(t.Out, "   (you are the agent "+Agent().FirstName+", in the team chat; :buyer switches back)")
		case roleAgentPrivate:
			fmt.Fprintln(t.Out, "   (you are the agent "+Agent().FirstName+", in their private chat with the bot; :buyer switches back)")
		}
		return true
	}
	switch line {
	case ":help":
		t.printHelp()
	case ":shop":
		t.printShop()
	default:
		fmt.Fprintln(t.Out, "   (no sandbox command "+line+": :help lists them)")
	}
	return true
}

// printShop lists what the pretend shop's webhook received, oldest first.
func (t *Terminal) printShop() {
	var events []ShopEvent
	if t.Shop != nil {
		events = t.Shop.Events()
	}
	if len(events) == 0 {
		fmt.Fprintln(t.Out, "   (the shop's webhook has received nothing yet: it hears of refunds paid back the original way)")
		return
	}
	for _, ev := range events {
		fmt.Fprintln(t.Out, "   🏪 "+ev.Format(t.Location))
	}
}

// typed sends a line to the bot as the current role: a button press
// (pressed), a sticker or voice note, a file, or text. As the agent, text
// and photos reply to the chat's latest message about a case.
func (t *Terminal) typed(line string) (pressed bool, err error) {
	t.mu.Lock()
	r := t.role
	chat, user := r.chat(), r.user()
	buttons := slices.Clone(t.buttons[chat.ID])
	target, replying := t.replyTo[chat.ID]
	t.mu.Unlock()
	if n, err := strconv.Atoi(line); err == nil && n > 0 {
		if n <= len(buttons) || len(line) <= maxButtonDigits {
			t.echo(r, line, nil)
		}
		switch {
		case n <= len(buttons) && buttons[n-1].url != "":
			return false, fmt.Errorf("that button opens %s", buttons[n-1].url)
		case n <= len(buttons) && buttons[n-1].gone:
			return false, fmt.Errorf("button %d is gone: the bot took that message's buttons off", n)
		case n <= len(buttons):
			t.Server.PressButton(chat, user, buttons[n-1].messageID, buttons[n-1].data)
			return true, nil
		case len(line) <= maxButtonDigits && len(buttons) == 0:
			return false, fmt.Errorf("no button %d: the latest message has no buttons (type text to send it)", n)
		case len(line) <= maxButtonDigits:
			return false, fmt.Errorf("no button %d: the latest message has buttons 1-%d", n, len(buttons))
		}
		// Longer numbers (phone digits, say) are text.
	}
	switch line {
	case ":sticker":
		t.echo(r, line, nil)
		t.Server.SendSticker(chat, user)
		return false, nil
	case ":voice":
		t.echo(r, line, nil)
		t.Server.SendVoice(chat, user)
		return false, nil
	}
	var replyTo *telegramfake.SentMessage
	if replying {
		replyTo = &target
	}
	if line == ":photo" {
		return false, t.sendFile(r, line, "screenshot.png", func() ([]byte, error) { return []byte(demoScreenshot), nil }, replyTo)
	}
	if path, ok := filePath(line); ok {
		return false, t.sendFile(r, line, filepath.Base(path), func() ([]byte, error) { return readTyped(line, path) }, replyTo)
	}
	t.echo(r, line, replyTo)
	if replyTo != nil {
		t.Server.ReplyText(chat, user, replyTo.MessageID, line)
		return false, nil
	}
	t.Server.SendText(chat, user, line)
	return false, nil
}

// sendFile sends a file named name, typed as line; images go as photos,
// which the agent sends as a reply like their text. read gives its bytes,
// or why it has none.
func (t *Terminal) sendFile(r role, line, name string, read func() ([]byte, error), replyTo *telegramfake.SentMessage) error {
	chat, user := r.chat(), r.user()
	photo := false
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".webp":
		photo = true
	}
	if !photo {
		replyTo = nil // the fake replies with text and photos only
	}
	t.echo(r, line, replyTo)
	data, err := read()
	if err != nil {
		return err
	}
	switch {
	case photo && replyTo != nil:
		t.Server.ReplyPhoto(chat, user, replyTo.MessageID, data, "")
	case photo:
		t.Server.SendPhoto(chat, user, data, "", "")
	default:
		t.Server.SendDocument(chat, user, data, name, "", "", "")
	}
	return nil
}

// readTyped reads the file at path, typed as line.
func readTyped(line, path string) ([]byte, error) {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("no such file: %s", line)
	case info.IsDir():
		return nil, fmt.Errorf("%s is a directory: type the path of a file to send it", line)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", line, err)
	}
	return data, nil
}

// demoScreenshot is what :photo sends: evidence for trying the dialog
// without a file at hand.
const demoScreenshot = "\x89PNG\r\n\x1a\nsandbox screenshot: 卡密已被使用"

// echo prints what the person sent, as whom and where, and which message
// it answers.
func (t *Terminal) echo(r role, line string, replyTo *telegramfake.SentMessage) {
	who := "👤"
	if r != roleBuyer {
		who = "🧑‍💼"
	}
	s := "\n" + who + " " + r.label() + " " + line
	if replyTo != nil {
		s += "   ↩ " + firstWords(replyTo.Text, 32)
	}
	fmt.Fprintln(t.Out, s)
}

// firstWords is the start of text's first line, at most n runes.
func firstWords(text string, n int) string {
	line, _, more := strings.Cut(text, "\n")
	if r := []rune(line); len(r) > n {
		return string(r[:n]) + "…"
	}
	if more {
		return line + " …"
	}
	return line
}

// maxButtonDigits is how long a number typed to press a button can be:
// a longer one is text.
const maxButtonDigits = 2

// filePath reports whether a typed line is meant as a file path, and the
// path with ~ expanded. A path is a word with a slash in it that is not a
// bot command: "/status" is a command, "/tmp" (an existing directory) and
// "/tmp/x.png" or "./x.png" are paths, whether the file exists or not.
func filePath(s string) (string, bool) {
	if strings.ContainsAny(s, " \t") || !(strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") ||
		strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~") || filepath.VolumeName(s) != "") {
		return "", false
	}
	if rest, ok := strings.CutPrefix(s, "~"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		s = home + rest
	}
	if strings.HasPrefix(s, "/") && !strings.ContainsAny(s[1:], "/\\") {
		// One word after a slash is a bot command, unless it names
		// something on disk.
		if _, err := os.Stat(s); err != nil {
			return "", false
		}
	}
	return s, true
}
