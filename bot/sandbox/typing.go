package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// What the person types: a role switch or another local command, a line
// for the chat of their role, a file to send, a button to press.

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
