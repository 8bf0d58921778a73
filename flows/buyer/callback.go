package buyer

import (
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// flows.Button actions. Menu actions ("m:...") work in any state; step actions
// ("s:<nonce>:...") belong to the step whose nonce they carry.
const (
	actMenuRefund = "refund"
	actMenuStatus = "status"
	actMenuOrder  = "order" // start a refund for the order in the argument
	// The follow-up menu actions come on notices about a case; their
	// argument is the case ID, and the refund core checks the presser owns
	// the case and that the action still fits its status.
	actMenuInfo       = "info"
	actMenuAppeal     = "appeal"
	actMenuAccount    = "account"
	actMenuOriginal   = "orig"
	actMenuBalance    = "bal"
	actMenuCase       = "case"
	actReason         = "reason"
	actUseDraft       = "draft"
	actKeepStatement  = "keep"
	actEvidenceDone   = "done"
	actSubmit         = "submit"
	actEdit           = "edit"
	actEditReason     = "edit_reason"
	actEditStatement  = "edit_statement"
	actEditEvidence   = "edit_evidence"
	actBack           = "back"
	actCancel         = "cancel"
	actSkipComment    = "skip"
	maxCallbackDataSz = 64
)

// buttonPress is parsed, validated callback data.
type buttonPress struct {
	menu   bool
	nonce  string
	action string
	arg    string
}

func menuData(action, arg string) string {
	if arg == "" {
		return "m:" + action
	}
	return "m:" + action + ":" + arg
}

func stepData(nonce, action, arg string) string {
	if arg == "" {
		return "s:" + nonce + ":" + action
	}
	return "s:" + nonce + ":" + action + ":" + arg
}

// parseButton validates callback data. Telegram relays whatever a client
// sends, so anything not produced by menuData or stepData is refused.
func parseButton(data string) (buttonPress, bool) {
	if len(data) == 0 || len(data) > maxCallbackDataSz {
		return buttonPress{}, false
	}
	parts := strings.Split(data, ":")
	switch {
	case parts[0] == "m" && (len(parts) == 2 || len(parts) == 3):
		p := buttonPress{menu: true, action: parts[1]}
		if len(parts) == 3 {
			if parts[2] == "" {
				return buttonPress{}, false // menuData never writes an empty argument
			}
			p.arg = parts[2]
		}
		switch p.action {
		case actMenuRefund, actMenuStatus:
			return p, p.arg == ""
		case actMenuOrder:
			return p, refund.ValidOrderID(p.arg)
		case actMenuInfo, actMenuAppeal, actMenuAccount, actMenuOriginal, actMenuBalance, actMenuCase:
			_, ok := flows.ParseID(p.arg)
			return p, ok
		}
	case parts[0] == "s" && (len(parts) == 3 || len(parts) == 4):
		p := buttonPress{nonce: parts[1], action: parts[2]}
		if len(parts) == 4 {
			if parts[3] == "" {
				return buttonPress{}, false // stepData never writes an empty argument
			}
			p.arg = parts[3]
		}
		if !validNonce(p.nonce) {
			return buttonPress{}, false
		}
		switch p.action {
		case actReason:
			for _, r := range refund.AllReasons() {
				if string(r) == p.arg {
					return p, true
				}
			}
		case actUseDraft, actKeepStatement, actEvidenceDone, actSubmit, actEdit, actEditReason,
			actEditStatement, actEditEvidence, actBack, actCancel, actSkipComment:
			return p, p.arg == ""
		}
	}
	return buttonPress{}, false
}

const nonceLen = 8

func validNonce(s string) bool {
	if len(s) != nonceLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
