// Package locales holds every user-facing text of refundbot as Go templates,
// one embedded JSON file per language, and renders them. zh-CN is the
// default; a key missing in another language falls back to it.
package locales

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// Default is the language used when a buyer's language is unknown.
const Default = "zh-CN"

//go:embed *.json
var files embed.FS

// Bundle renders the texts of all languages. It is read-only after Load.
type Bundle struct {
	templates map[string]map[Key]*template.Template
}

// Load parses every embedded language file. Templates fail on a missing
// field (missingkey=error) so that the locale test catches every typo.
func Load() (*Bundle, error) {
	entries, err := files.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("read locale files: %w", err)
	}
	b := &Bundle{templates: map[string]map[Key]*template.Template{}}
	for _, e := range entries {
		lang := strings.TrimSuffix(e.Name(), ".json")
		raw, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, fmt.Errorf("read locale %s: %w", lang, err)
		}
		var texts map[string]string
		if err := json.Unmarshal(raw, &texts); err != nil {
			return nil, fmt.Errorf("parse locale %s: %w", lang, err)
		}
		parsed := make(map[Key]*template.Template, len(texts))
		for k, v := range texts {
			t, err := template.New(k).Option("missingkey=error").Parse(v)
			if err != nil {
				return nil, fmt.Errorf("parse locale %s key %s: %w", lang, k, err)
			}
			parsed[Key(k)] = t
		}
		b.templates[lang] = parsed
	}
	if _, ok := b.templates[Default]; !ok {
		return nil, fmt.Errorf("load locales: default language %s is missing", Default)
	}
	return b, nil
}

// Languages lists the loaded languages, sorted.
func (b *Bundle) Languages() []string {
	langs := make([]string, 0, len(b.templates))
	for l := range b.templates {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	return langs
}

// Has reports whether lang defines key.
func (b *Bundle) Has(lang string, key Key) bool {
	_, ok := b.templates[lang][key]
	return ok
}

// Keys returns the keys a language file defines.
func (b *Bundle) Keys(lang string) []Key {
	keys := make([]Key, 0, len(b.templates[lang]))
	for k := range b.templates[lang] {
		keys = append(keys, k)
	}
	return keys
}

// Render renders key in lang with data, falling back to the default
// language for an unknown language or key.
func (b *Bundle) Render(lang string, key Key, data any) (string, error) {
	t, ok := b.templates[lang][key]
	if !ok {
		t, ok = b.templates[Default][key]
	}
	if !ok {
		return "", fmt.Errorf("render %s/%s: no such text", lang, key)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("render %s/%s: %w", lang, key, err)
	}
	return buf.String(), nil
}

// Text renders like Render but never fails: callers that talk to a buyer
// need some text, and the locale test guarantees every key renders, so a
// failure here is a programming error shown as the key itself rather than a
// Go error string.
func (b *Bundle) Text(lang string, key Key, data any) string {
	s, err := b.Render(lang, key, data)
	if err != nil {
		return string(key)
	}
	return s
}

// Match maps a Telegram language code ("en", "en-US", "zh-hans") to a
// loaded language by its base ("en", "zh"), or to Default.
func (b *Bundle) Match(code string) string {
	base, _, _ := strings.Cut(strings.ToLower(code), "-")
	for lang := range b.templates {
		langBase, _, _ := strings.Cut(strings.ToLower(lang), "-")
		if base != "" && base == langBase {
			return lang
		}
	}
	return Default
}
