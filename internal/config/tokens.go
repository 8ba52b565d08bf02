package config

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// GenerateTokens writes a fresh as_token and hs_token into the config file
// at path, and an admin_token where that is the placeholder. An empty or
// absent admin_token stays so: it is how the admin API is switched off,
// and rotating the other tokens must not switch it back on.
//
// Only the token values change. Re-encoding the YAML, even from its node
// tree, would drop blank lines and re-indent; instead the node tree locates
// each value and just those bytes are replaced, so comments and layout stay
// exactly as the operator left them.
//
// The file is rewritten only if the result validates, so a broken config is
// never half-updated, and with mode 0600 because it now holds secrets.
// Errors about the content do not repeat the path.
func GenerateTokens(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Parse first: a file with unknown keys or wrong types is not edited.
	cfg, err := Parse(data)
	if err != nil {
		return nil, err
	}
	tokens := map[string]string{"as_token": rand.Text(), "hs_token": rand.Text()}
	if cfg.AppService.AdminToken == TokenPlaceholder {
		tokens["admin_token"] = rand.Text()
	}
	updated, err := withAppServiceValues(data, tokens)
	if err != nil {
		return nil, err
	}
	cfg, err = Parse(updated)
	if err != nil {
		return nil, fmt.Errorf("after writing the tokens: %w", err)
	}
	// The edit works on bytes, so make sure it said what was meant.
	written := map[string]string{"as_token": cfg.AppService.ASToken, "hs_token": cfg.AppService.HSToken, "admin_token": cfg.AppService.AdminToken}
	for key, token := range tokens {
		if written[key] != token {
			return nil, &KeyError{Key: "appservice." + key, Msg: "could not be written into the file's layout; set it by hand"}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, updated, 0o600); err != nil {
		return nil, err
	}
	return cfg, nil
}

// withAppServiceValues returns data with the given keys of the appservice
// section set to the given values (which must be plain YAML scalars, as
// tokens are): existing values are replaced in place, in the quoting style
// they had, and missing keys are added as the section's first lines.
func withAppServiceValues(data []byte, values map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the configuration is not a YAML mapping")
	}
	sectionKey, section := lookup(doc.Content[0], "appservice")
	if section == nil {
		return nil, &KeyError{Key: "appservice", Msg: "missing: walkie -g writes the tokens into this section (walkie -e writes a complete example)"}
	}
	if section.Kind != yaml.MappingNode || section.Style&yaml.FlowStyle != 0 || len(section.Content) == 0 {
		err := &KeyError{Key: "appservice", Msg: "must be a block mapping (one key per line) for walkie -g to write tokens into"}
		if sectionKey != nil {
			err.Line = sectionKey.Line
		}
		return nil, err
	}
	src := newSource(data)
	var edits []edit
	var missing bytes.Buffer
	indent := bytes.Repeat([]byte(" "), section.Content[0].Column-1)
	for _, key := range slices.Sorted(maps.Keys(values)) {
		_, value := lookup(section, key)
		if value == nil {
			fmt.Fprintf(&missing, "%s%s: %s\n", indent, key, values[key])
			continue
		}
		e, err := src.replaceScalar(value, values[key])
		if err != nil {
			return nil, &KeyError{Key: "appservice." + key, Line: value.Line, Msg: err.Error()}
		}
		edits = append(edits, e)
	}
	if missing.Len() > 0 {
		// Right below "appservice:", before the first key and its comments.
		edits = append(edits, edit{at: src.lineStart(sectionKey.Line + 1), text: missing.String()})
	}
	return applyEdits(data, edits), nil
}

// lookup returns the key and value nodes of key in a mapping node.
func lookup(mapping *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i], mapping.Content[i+1]
		}
	}
	return nil, nil
}

// edit replaces the n bytes at offset at with text.
type edit struct {
	at, n int
	text  string
}

func applyEdits(data []byte, edits []edit) []byte {
	// Back to front, so the offsets of the edits still to do stay right.
	slices.SortFunc(edits, func(a, b edit) int { return b.at - a.at })
	out := slices.Clone(data)
	for _, e := range edits {
		out = slices.Replace(out, e.at, e.at+e.n, []byte(e.text)...)
	}
	return out
}

// source maps yaml.v3's node positions (1-based lines, 1-based columns
// counted in characters) to byte offsets.
type source struct {
	data  []byte
	lines []int // byte offset of each line's start
}

func newSource(data []byte) source {
	lines := []int{0}
	for i, b := range data {
		if b == '\n' {
			lines = append(lines, i+1)
		}
	}
	return source{data, lines}
}

// lineStart is the offset of a line's first byte; past the last line, the
// end of the data.
func (s source) lineStart(line int) int {
	if line-1 < len(s.lines) {
		return s.lines[line-1]
	}
	return len(s.data)
}

func (s source) offset(line, column int) int {
	at := s.lineStart(line)
	for range column - 1 {
		_, size := utf8.DecodeRune(s.data[at:])
		at += size
	}
	return at
}

// replaceScalar is the edit that gives a one-line scalar node a new value,
// keeping its quoting style.
func (s source) replaceScalar(n *yaml.Node, value string) (edit, error) {
	if n.Kind != yaml.ScalarNode {
		return edit{}, errors.New("must be a plain value for walkie -g to replace it")
	}
	at := s.offset(n.Line, n.Column)
	rest := s.data[at:]
	switch n.Style {
	case 0:
		if n.Value == "" { // "key:" with no value: the node sits right after the colon
			return edit{at: at, text: " " + value}, nil
		}
		if bytes.HasPrefix(rest, []byte(n.Value)) {
			return edit{at: at, n: len(n.Value), text: value}, nil
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if end := quotedEnd(rest); end > 0 {
			q := string(rest[0])
			return edit{at: at, n: end, text: q + value + q}, nil
		}
	}
	return edit{}, errors.New("write the value on one line, without tags or block style, for walkie -g to replace it")
}

// quotedEnd is the length of the one-line quoted scalar at the start of b,
// closing quote included, or 0 when it spans lines.
func quotedEnd(b []byte) int {
	quote := b[0]
	for i := 1; i < len(b); i++ {
		switch {
		case b[i] == '\n':
			return 0
		case quote == '"' && b[i] == '\\':
			i++ // skip the escaped character
		case b[i] == quote && quote == '\'' && i+1 < len(b) && b[i+1] == '\'':
			i++ // '' is an escaped single quote
		case b[i] == quote:
			return i + 1
		}
	}
	return 0
}
