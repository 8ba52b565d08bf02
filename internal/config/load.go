package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the config file at path. It does not validate: call
// Validate before using the result. Errors about the content do not repeat
// the path, which the caller knows.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse decodes one YAML document strictly over the defaults: absent keys keep
// their defaults, unknown keys and values of the wrong type are KeyErrors.
func Parse(data []byte) (*Config, error) {
	cfg := defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	switch err := dec.Decode(cfg); {
	case errors.Is(err, io.EOF):
		return nil, errors.New("the configuration is empty")
	case err != nil:
		return nil, explainDecodeError(data, err)
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return nil, errors.New("the configuration must be a single YAML document")
	}
	return cfg, nil
}

// yaml.v3 reports decoding problems as "line N: message" strings without the
// key, so each is mapped back to its key through the file's node tree.
var (
	lineMessage  = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	duplicateKey = regexp.MustCompile(`^mapping key "(.*)" already defined at line \d+$`)
	typeMismatch = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// explainDecodeError turns a *yaml.TypeError into KeyErrors naming their
// keys; syntax errors are returned as they are, since they have no key.
func explainDecodeError(data []byte, err error) error {
	typeErr, ok := errors.AsType[*yaml.TypeError](err)
	if !ok {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return err
	}
	keys := indexKeys(&doc)
	var errs []error
	for _, msg := range typeErr.Errors {
		m := lineMessage.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, errors.New(msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		text, path := m[2], ""
		if f := unknownField.FindStringSubmatch(text); f != nil {
			text, path = "unknown key", keys.find(line, 0, f[1])
		} else if f := duplicateKey.FindStringSubmatch(text); f != nil {
			text, path = "key given twice", keys.find(line, 0, f[1])
		} else if f := typeMismatch.FindStringSubmatch(text); f != nil {
			text, path = describeTypeMismatch(f), keys.find(line, valueKind(f[1]), "")
		}
		if path == "" {
			errs = append(errs, fmt.Errorf("line %d: %s", line, text))
			continue
		}
		errs = append(errs, &KeyError{Key: path, Line: line, Msg: text})
	}
	return errors.Join(errs...)
}

// describeTypeMismatch rewrites yaml.v3's "cannot unmarshal !!str `http`
// into int", split by typeMismatch, in the operator's terms rather than Go's.
func describeTypeMismatch(m []string) string {
	tag, value, goType := m[1], m[2], m[3]
	var want string
	switch goType {
	case "time.Duration":
		want = "a duration with its unit, such as 30s or 1m30s"
	case "int", "int64":
		want = "a whole number"
	case "bool":
		want = "true or false"
	case "string", "config.Level":
		want = "a single value"
	default: // the sections and the permissions map
		want = "a mapping of keys to values"
	}
	switch {
	case tag == "str" && quotedScalar(goType, value):
		// "29330" in quotes: the value is right, the quotes make it text.
		return fmt.Sprintf("expected %s, got the quoted string %q: remove the quotes", want, value)
	case value != "":
		return fmt.Sprintf("expected %s, got %q", want, value) // yaml.v3 shortens long values to "1234567..."
	case tag == "map":
		return "expected " + want + ", got a mapping"
	case tag == "seq":
		return "expected " + want + ", got a list"
	}
	return "expected " + want
}

// quotedScalar: a string that, unquoted, YAML would have read as the
// number or boolean the key wants; it reached the key as a string (tag
// !!str), so it was quoted.
func quotedScalar(goType, value string) bool {
	switch goType {
	case "int", "int64":
		_, err := strconv.Atoi(value)
		return err == nil
	case "bool":
		return value == "true" || value == "false"
	}
	return false
}

// valueKind is the kind of node that a type mismatch about tag is about.
func valueKind(tag string) yaml.Kind {
	switch tag {
	case "map":
		return yaml.MappingNode
	case "seq":
		return yaml.SequenceNode
	}
	return yaml.ScalarNode
}

// keyIndex lists every key of a document and every value that belongs to a
// key, with their lines, in document order (a parent before its children).
type keyIndex []indexedNode

type indexedNode struct {
	line int
	path string
	name string
	// kind is the node's kind for a value, 0 for the key itself.
	kind yaml.Kind
}

func indexKeys(doc *yaml.Node) keyIndex {
	var keys keyIndex
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, child := range n.Content {
				walk(child, path)
			}
		case yaml.SequenceNode:
			for i, item := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				keys = append(keys, indexedNode{item.Line, p, "", item.Kind})
				walk(item, p)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, value := n.Content[i], n.Content[i+1]
				p := keyPath(path, key.Value)
				keys = append(keys,
					indexedNode{key.Line, p, key.Value, 0},
					indexedNode{value.Line, p, key.Value, value.Kind})
				walk(value, p)
			}
		}
	}
	walk(doc, "")
	return keys
}

// find returns the path of the node on line that a decoding message is
// about: the key called name for kind 0, else the value of that kind. On a
// line with several candidates (a flow mapping, a nested mapping starting on
// its first key's line) the kind tells them apart, and the innermost wins.
func (keys keyIndex) find(line int, kind yaml.Kind, name string) string {
	path := ""
	for _, k := range keys {
		if k.line == line && k.kind == kind && (kind != 0 || k.name == name) {
			path = k.path
		}
	}
	return path
}
