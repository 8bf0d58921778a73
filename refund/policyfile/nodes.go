package policyfile

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

// YAML nodes as the errors show them: where a value is, what it is, and
// the dotted path of its key.

func unknownKey(e entry, what string, known []string) error {
	parent, _ := strings.CutSuffix(e.path, e.name)
	parent = strings.TrimSuffix(parent, ".")
	return errorAt(e.key, parent, "unknown %s %q (want one of %s)", what, e.name, strings.Join(known, ", "))
}

func errorAt(n *yaml.Node, field, format string, args ...any) *Error {
	return &Error{Line: n.Line, Column: n.Column, Field: field, Err: refund.FieldError(field, format, args...)}
}

// resolve follows an alias (*name) to its anchor, so that shared settings
// written once with &name work, and errors point at the written value.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "key: value pairs"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
