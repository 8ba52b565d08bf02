package browser

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// New starts a browser for a test: page consoles go to t.Log, a missing
// Chromium fails the test (with how to install it), and the browser is
// closed when the test ends.
func New(t testing.TB, opts Options) *Browser {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	b, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// NewTestUser opens a user's tab for a test, and closes it when the test
// ends; if the test failed, it first saves a screenshot of the page in
// t.ArtifactDir() (kept with `go test -artifacts`) and says where.
func (b *Browser) NewTestUser(t *testing.T, name string) *User {
	t.Helper()
	u, err := b.NewUser(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			path := filepath.Join(t.ArtifactDir(), fileName(name)+".png")
			if err := u.Screenshot(path); err != nil {
				t.Logf("no screenshot of %s: %v", name, err)
			} else {
				t.Logf("screenshot of %s at failure: %s", name, path)
			}
		}
		u.Close()
	})
	return u
}

// fileName makes a user's name safe as a file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, name)
}
