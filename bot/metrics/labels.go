package metrics

import "strconv"

// other is the label value of everything outside a label's known set.
const other = "other"

// The label sets, as functions rather than package variables so that no
// state is shared between Metrics values. Each is what the bot produces
// today; anything else is reported as other.

// updateKinds are the bot adapter's kinds of update.
func updateKinds() []string {
	return []string{"text", "command", "callback", "photo", "document", "album", "sticker", "voice", other}
}

// updateOutcomes are how handling an update can end.
func updateOutcomes() []string {
	return []string{"ok", "duplicate", "error", "undelivered", "postponed", "throttled", other}
}

// telegramMethods are the Bot API methods the bot calls.
func telegramMethods() []string {
	return []string{"sendMessage", "sendPhoto", "sendDocument", "answerCallbackQuery", "editMessageReplyMarkup",
		"getUpdates", "getMe", "setWebhook", "deleteWebhook", "getWebhookInfo", "createForumTopic", "getChat",
		"forwardMessage", "copyMessage", other}
}

// telegramResults are "ok", "network" and the Bot API error codes worth
// telling apart.
func telegramResults() []string {
	return []string{"ok", "network", "400", "403", "404", "409", "429", "500", "502", "503", "504", other}
}

// throttleScopes are the shared rate limiter's scopes.
func throttleScopes() []string { return []string{"global", "chat", "group", other} }

// dialogEnds are how a dialog can end.
func dialogEnds() []string { return []string{"submitted", "cancelled", "expired", other} }

// webhookCodes are the statuses the webhook endpoint answers with; any
// other is counted by its class ("2xx", …).
func webhookCodes() []string {
	return []string{"200", "204", "400", "401", "403", "404", "405", "409", "413", "415", "429", "500", "502", "503"}
}

// labelSet bounds a label's values.
type labelSet map[string]bool

func newLabelSet(values []string) labelSet {
	s := make(labelSet, len(values))
	for _, v := range values {
		s[v] = true
	}
	return s
}

// bound returns v if the set has it, else other.
func (s labelSet) bound(v string) string {
	if s[v] {
		return v
	}
	return other
}

// Buckets. Handling an update is a few Redis round trips and maybe a
// send, so milliseconds; a slow Bot API or database stretches it to
// seconds, and beyond 10 s the exact time no longer matters.
func handlingBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// throttleBuckets follow Telegram's limits (30 messages/s in all, about
// 1/s per chat, 20/min per group): waits from milliseconds to a minute.
func throttleBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// telegramResult names a Bot API result before bounding: "ok", "network"
// or the error code.
func telegramResult(code int) string {
	switch code {
	case 0:
		return "ok"
	case -1:
		return "network"
	}
	return strconv.Itoa(code)
}

// webhookCode is the code label of an HTTP status: itself when known,
// else its class, else other.
func (m *Metrics) webhookCode(status int) string {
	code := strconv.Itoa(status)
	switch {
	case m.codes[code]:
		return code
	case status >= 100 && status <= 599:
		return strconv.Itoa(status/100) + "xx"
	}
	return other
}
