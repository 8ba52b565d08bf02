package checkout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModulePath(t *testing.T) {
	for goMod, want := range map[string]string{
		"module github.com/walkie-ptt/walkie\n\ngo 1.26\n": "github.com/walkie-ptt/walkie",
		"// comment\nmodule \"example.com/quoted\"\n":      "example.com/quoted",
		"go 1.26\n": "",
	} {
		if got := modulePath([]byte(goMod)); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", goMod, got, want)
		}
	}
}

// The test runs in internal/testkit/checkout, three levels below the root.
func TestRootIsThisCheckout(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "..", "..", ".."); filepath.Clean(want) != root {
		t.Fatalf("Root() = %s, want %s", root, filepath.Clean(want))
	}
}
