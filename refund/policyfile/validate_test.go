package policyfile

import (
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

// A Validate failure in a value the file never set (only possible if the
// built-in defaults were broken) cannot be reached through Parse, so the
// mapping is tested here directly.
func TestValidateError(t *testing.T) {
	set := &yaml.Node{Line: 7, Column: 10}
	tests := []struct {
		name      string
		at        map[string]*yaml.Node
		err       error
		line, col int
		want      string
	}{
		{"set by the file", map[string]*yaml.Node{"payout_days.alipay": set},
			refund.FieldError("payout_days.alipay", "bad"), 7, 10, "7:10: payout_days.alipay: bad"},
		{"nested field", map[string]*yaml.Node{"frequent_refunds.limit": set},
			refund.FieldError("frequent_refunds.limit", "must be at least 1"), 7, 10, "7:10: frequent_refunds.limit: must be at least 1"},
		{"left at default", map[string]*yaml.Node{},
			refund.FieldError("frequent_refunds.period", "must be positive"), 0, 0, "frequent_refunds.period: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&decoder{at: tt.at}).validateError(tt.err)
			fe, ok := err.(*Error)
			if !ok {
				t.Fatalf("got %T, want *Error", err)
			}
			if fe.Line != tt.line || fe.Column != tt.col || err.Error() != tt.want {
				t.Errorf("got %d:%d %q, want %d:%d %q", fe.Line, fe.Column, err, tt.line, tt.col, tt.want)
			}
			if refund.ErrorField(err) != refund.ErrorField(tt.err) {
				t.Errorf("ErrorField = %q, want Validate's %q", refund.ErrorField(err), refund.ErrorField(tt.err))
			}
		})
	}
}
