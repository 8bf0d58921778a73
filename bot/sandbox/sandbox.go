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
	}
}

// Terminal is the person's side of the chat: it prints what the bot sends
// and turns typed lines into updates.
type Terminal struct {
	Server *telegramfake.Server
	In     io.Reader
	Out    io.Writer

	mu      sync.Mutex
	buttons []buttonRef // the numbered buttons of the latest keyboard
	// activity is signalled whenever the bot shows something, so that the
	// terminal reads the next line only once the bot has answered: piped
	// input then gives the same transcript as typing.
	activity chan struct{}
}

type buttonRef struct {
	messageID int
	data      string
	url       string
}

func (t *Terminal) chat() telegramfake.Chat {
	return telegramfake.Chat{ID: BuyerID, Type: "private"}
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
	fmt.Fprintln(t.Out, "(images as photos); :sticker and :voice send those; /quit or Ctrl-D leaves. Try /start.")
	fmt.Fprintln(t.Out)
}

// Show prints a bot message and numbers its buttons.
func (t *Terminal) Show(m telegramfake.SentMessage) {
	if m.ChatID != BuyerID || m.Deleted {
		return
	}
	defer t.signal()
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.Edits > 0 {
		// The bot takes buttons off a pressed message; only say so when the
		// numbered buttons were that message's.
		if len(m.Keyboard) == 0 && len(t.buttons) > 0 && t.buttons[0].messageID == m.MessageID {
			t.buttons = nil
		}
		return
	}
	var b strings.Builder
	b.WriteString("\n🤖 ")
	b.WriteString(strings.ReplaceAll(m.Text, "\n", "\n   "))
	b.WriteString("\n")
	if len(m.Keyboard) > 0 {
		t.buttons = t.buttons[:0]
		for _, row := range m.Keyboard {
			for _, btn := range row {
				t.buttons = append(t.buttons, buttonRef{messageID: m.MessageID, data: btn.CallbackData, url: btn.URL})
				fmt.Fprintf(&b, "   [%d] %s\n", len(t.buttons), btn.Text)
			}
		}
	}
	io.WriteString(t.Out, b.String())
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
			fmt.Fprintln(t.Out, "\n👤 "+line)
			if err := t.typed(line); err != nil {
				fmt.Fprintf(t.Out, "   (%v)\n", err)
				continue
			}
			t.settle(ctx)
		}
	}
}

func (t *Terminal) typed(line string) error {
	if line == "" {
		return nil
	}
	if n, err := strconv.Atoi(line); err == nil && n > 0 {
		t.mu.Lock()
		var ref buttonRef
		count := len(t.buttons)
		ok := n <= count
		if ok {
			ref = t.buttons[n-1]
		}
		t.mu.Unlock()
		switch {
		case ok && ref.url != "":
			return fmt.Errorf("that button opens %s", ref.url)
		case ok:
			t.Server.PressButton(t.chat(), Buyer(), ref.messageID, ref.data)
			return nil
		case len(line) <= maxButtonDigits && count == 0:
			return fmt.Errorf("no button %d: the latest message has no buttons (type text to send it)", n)
		case len(line) <= maxButtonDigits:
			return fmt.Errorf("no button %d: the latest message has buttons 1-%d", n, count)
		}
		// Longer numbers (phone digits, say) are the buyer's text.
	}
	switch line {
	case ":sticker":
		t.Server.SendSticker(t.chat(), Buyer())
		return nil
	case ":voice":
		t.Server.SendVoice(t.chat(), Buyer())
		return nil
	}
	if path, ok := filePath(line); ok {
		info, err := os.Stat(path)
		switch {
		case err != nil:
			return fmt.Errorf("no such file: %s", line)
		case info.IsDir():
			return fmt.Errorf("%s is a directory: type the path of a file to send it", line)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", line, err)
		}
		switch strings.ToLower(filepath.Ext(line)) {
		case ".jpg", ".jpeg", ".png", ".gif", ".webp":
			t.Server.SendPhoto(t.chat(), Buyer(), data, "", "")
		default:
			t.Server.SendDocument(t.chat(), Buyer(), data, filepath.Base(line), "", "", "")
		}
		return nil
	}
	t.Server.SendText(t.chat(), Buyer(), line)
	return nil
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
