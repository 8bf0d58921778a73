// Package policyfile reads the shop's refund rulebook from a YAML file.
//
// The file overrides refund.DefaultPolicy key by key, so that a shop writes
// down only where it departs from common practice. The person who edits it
// is a shop operator reading errors in a container log, not a Go programmer:
// every mistake therefore names the line and column it is on, and a misspelt
// key is an error rather than a silently kept default. deploy/policy.example.yaml
// documents the format; a test keeps it equal to the defaults.
package policyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

// Error is a mistake in a policy file, placed where the operator can find
// it: "policy.yaml:12:5: categories.topup.window: ...".
type Error struct {
	// File is the path Load read; Parse leaves it empty.
	File string
	// Line and Column are 1-based. Both are zero when the value at fault is
	// a built-in default the file did not set, so there is no line to show.
	// Column is zero for YAML syntax errors: the library reports only a
	// line, and for some errors that line is one off (go-yaml/yaml#542).
	Line, Column int
	// Field is the dotted key path as the file spells it, e.g.
	// "categories.topup.window"; empty when the fault is the file as a whole.
	Field string
	// Err carries code EINVALID so that callers can treat a bad policy like
	// any other invalid input. When Policy.Validate found the fault, Err is
	// Validate's own error, whose Field may be spelt differently from Field.
	Err *refund.Error
}

// Error formats the mistake the way compilers do, so editors and log
// viewers can jump to it.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, "%d:", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Message)
	}
	return b.String()
}

// Unwrap exposes the application error, for refund.ErrorCode and friends.
func (e *Error) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// Load reads and parses the policy file at path. The error names the path,
// since the operator may not know which file the bot was pointed at.
func Load(path string) (refund.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The *fs.PathError already names the path.
		return refund.Policy{}, fmt.Errorf("read policy file: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			fe.File = path
			return refund.Policy{}, fe
		}
		return refund.Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse applies a policy file's settings over refund.DefaultPolicy and
// validates the result. An empty file yields the defaults. On failure the
// error is an *Error and the returned policy is the zero value, so that a
// half-applied rulebook is never used by mistake.
func Parse(data []byte) (refund.Policy, error) {
	root, err := document(data)
	if err != nil {
		return refund.Policy{}, err
	}
	p := refund.DefaultPolicy()
	d := &decoder{at: map[string]*yaml.Node{}}
	if root != nil {
		if err := d.policy(entry{val: root}, &p); err != nil {
			return refund.Policy{}, err
		}
	}
	if err := p.Validate(); err != nil {
		return refund.Policy{}, d.validateError(err)
	}
	return p, nil
}

// document returns the root node of the file's single YAML document, or nil
// when the file holds nothing but comments.
func document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err)
	}
	// A second document would otherwise be ignored without a word.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(err)
		}
		return nil, errorAt(&extra, "", "the file holds more than one YAML document (a second ---); keep one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return nil, nil
	}
	return root, nil
}

// syntaxError turns the YAML library's "yaml: line 3: ..." into an *Error
// with a line and no column, since that is all the library gives.
func syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				e.Line, msg = n, text
			}
		}
	}
	e.Err = refund.FieldError("", "not valid YAML: %s", msg)
	return e
}
