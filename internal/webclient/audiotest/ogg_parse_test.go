package audiotest

import (
	"os"
	"path/filepath"
	"testing"
)

// The parser the browser tests trust must itself agree with libopus's own
// tools: the demo chunks were written by opusenc (assets/demo/README.md).
func TestOggParserAcceptsOpusencFiles(t *testing.T) {
	files, err := filepath.Glob("../../../assets/demo/chunk-*.ogg")
	if err != nil || len(files) == 0 {
		t.Fatalf("no demo chunks found (%v)", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseOpus(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.channels != 1 || f.rate != rate || f.preSkip != 312 || f.samples() < rate/2 {
			t.Errorf("%s: %d channels, %d Hz, pre-skip %d, %d samples", name, f.channels, f.rate, f.preSkip, f.samples())
		}
		// One flipped bit anywhere must fail the page's CRC.
		data[len(data)/2] ^= 0x10
		if _, err := parseOpus(data); err == nil {
			t.Errorf("%s: a corrupted copy parses", name)
		}
	}
}
