package buyer

import (
	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
)

// keyboard makes the buttons of the dialog's current step. Step buttons
// carry the step's nonce, so that a press on an older message is known to
// be stale.
type keyboard struct{ t *flows.Turn }

// keys is the keyboard of the turn's current step.
func (t *turn) keys() keyboard { return keyboard{t.Turn} }

func (k keyboard) data(action, arg string) string { return stepData(k.t.Sess.Nonce, action, arg) }

func (k keyboard) button(label locales.Key, action string) flows.Button {
	return flows.Button{Text: k.t.Text(label, nil), Data: k.data(action, "")}
}

func (k keyboard) back() flows.Button { return k.button(locales.BtnBack, actBack) }

func (k keyboard) cancel() flows.Button { return k.button(locales.BtnCancel, actCancel) }

func (k keyboard) cancelRow() []flows.Button { return []flows.Button{k.cancel()} }

// nav is Back and Cancel, or only Cancel where there is no step to go
// back to.
func (k keyboard) nav() [][]flows.Button {
	if k.t.Sess.State == StateAwaitingOrder || k.t.Sess.State == StateIdle {
		return [][]flows.Button{k.cancelRow()}
	}
	return [][]flows.Button{{k.back(), k.cancel()}}
}

func (k keyboard) evidence() [][]flows.Button {
	return append([][]flows.Button{{k.button(locales.BtnDone, actEvidenceDone)}}, k.nav()...)
}

// followUp is Send and Cancel for a follow-up step.
func (k keyboard) followUp() [][]flows.Button {
	rows := [][]flows.Button{}
	switch k.t.Sess.State {
	case StateAddingEvidence:
		rows = append(rows, []flows.Button{k.button(locales.BtnDone, actEvidenceDone)})
	case StateWritingAppeal:
		rows = append(rows, []flows.Button{k.button(locales.BtnSubmitAppeal, actSubmit)})
	}
	return append(rows, k.cancelRow())
}

// menu is the idle dialog's two ways in.
func (k keyboard) menu() [][]flows.Button {
	return [][]flows.Button{{
		{Text: k.t.Text(locales.BtnRefund, nil), Data: menuData(actMenuRefund, "")},
		{Text: k.t.Text(locales.BtnStatus, nil), Data: menuData(actMenuStatus, "")},
	}}
}
