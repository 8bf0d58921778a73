package buyer

import (
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

func (t *turn) files() {
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
