package buyer

import (
	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// evidence collects the files a buyer sends: for a new request at the
// evidence step, and for a submitted case when it asks for more or is
// appealed. A file is kept once, up to refund.MaxEvidence.
type evidence struct{ *turn }

// evidence is the turn collecting files.
func (t *turn) evidence() evidence { return evidence{t} }

// ask asks for the evidence the reason needs, if any: without a
// requirement the step is optional ("no upload needed").
func (t evidence) ask() {
	ask := locales.AskEvidence
	if !t.d.policy().Reasons[t.Sess.Reason].EvidenceRequired {
		ask = locales.AskEvidenceOptional
	}
	text := t.Text(ask, map[string]any{"Hint": t.Text(locales.EvidenceHint(t.Sess.Reason), nil), "Max": refund.MaxEvidence})
	if n := len(t.Sess.Evidence); n > 0 {
		text += "\n" + t.Text(locales.EvidenceReceived, map[string]any{"Count": n, "Max": refund.MaxEvidence})
	}
	t.Out = append(t.Out, flows.Message{Text: text, Buttons: t.keys().evidence()})
}

// add keeps the input's files, in a step that takes them, and says how
// many the request has.
func (t evidence) add() {
	buttons := t.keys().evidence
	switch t.Sess.State {
	case StateCollectingEvidence:
	case StateAddingEvidence, StateWritingAppeal:
		buttons = t.keys().followUp
	default:
		t.Say(locales.FileNotNow, nil)
		return
	}
	seen := map[string]bool{}
	for _, e := range t.Sess.Evidence {
		seen[e.FileUniqueID] = true
	}
	added, duplicates, ignored := 0, 0, 0
	for _, f := range t.In.Files {
		switch {
		case seen[f.FileUniqueID]:
			duplicates++
		case len(t.Sess.Evidence) >= refund.MaxEvidence:
			ignored++
		default:
			seen[f.FileUniqueID] = true
			t.Sess.Evidence = append(t.Sess.Evidence, f)
			added++
		}
	}
	if duplicates > 0 {
		t.Say(locales.EvidenceDuplicate, nil)
	}
	if ignored > 0 {
		t.Say(locales.EvidenceFull, map[string]any{"Max": refund.MaxEvidence, "Ignored": ignored})
	}
	t.Say(locales.EvidenceReceived, map[string]any{"Count": len(t.Sess.Evidence), "Max": refund.MaxEvidence}, buttons()...)
}
