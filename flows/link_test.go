package flows_test

import (
	"encoding/json"
	"testing"

	"github.com/refundbot/refundbot/flows"
)

// TestLinkJSON: a link's kind survives the send queue, and a queue
// written before kinds existed reads as it was meant.
func TestLinkJSON(t *testing.T) {
	tests := []struct {
		name string
		link flows.Link
		json string
	}{
		{"a relayed message", flows.Link{Escalation: 12}, `{"esc":12}`},
		{"a card, as queues always wrote it", flows.Link{Escalation: 12, Kind: flows.LinkCard}, `{"esc":12,"card":true}`},
		{"a place message", flows.Link{Escalation: 12, Kind: flows.LinkPlace}, `{"esc":12,"place":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(flows.Envelope{ChatID: 1, Link: &tt.link})
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Link json.RawMessage `json:"link"`
			}
			if err := json.Unmarshal(b, &env); err != nil || string(env.Link) != tt.json {
				t.Fatalf("link encoded as %s (%v), want %s", env.Link, err, tt.json)
			}
			var back flows.Envelope
			if err := json.Unmarshal(b, &back); err != nil || back.Link == nil || *back.Link != tt.link {
				t.Errorf("decoded %+v (%v), want %+v", back.Link, err, tt.link)
			}
		})
	}
	var old flows.Envelope
	if err := json.Unmarshal([]byte(`{"chat":1,"msg":{"text":"x"},"link":{"esc":5,"card":false},"at":"2026-11-22T06:00:00Z"}`), &old); err != nil ||
		old.Link == nil || *old.Link != (flows.Link{Escalation: 5}) {
		t.Errorf("an old relay link decoded as %+v, %v", old.Link, err)
	}
}
