package proc

import (
	"bytes"
	"testing"
)

func TestOutputKeepsTheEnd(t *testing.T) {
	var sink bytes.Buffer
	w := NewOutput(&sink, 4)
	for _, s := range []string{"abc", "def", "g"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.String(); got != "defg" {
		t.Errorf("String() = %q, want %q", got, "defg")
	}
	if got := w.Tail(2); got != "fg" {
		t.Errorf("Tail(2) = %q, want %q", got, "fg")
	}
	if sink.String() != "abcdefg" {
		t.Errorf("sink got %q, want everything", sink.String())
	}
}

func TestOutputWithoutLimitKeepsEverything(t *testing.T) {
	w := NewOutput(nil, 0)
	for _, s := range []string{"abc", "def"} {
		_, _ = w.Write([]byte(s))
	}
	if got := w.String(); got != "abcdef" {
		t.Errorf("String() = %q, want everything", got)
	}
}
