package app

import (
	"go/build"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// layers says which of Walkie's own packages each product package may
// import (non-test files). Data flows one way: entry points → decide →
// store and codec → engine; lower packages never import higher ones, and
// no product package imports test tooling. docs/architecture.md draws it.
var layers = map[string][]string{
	"internal/floor":      {},
	"internal/matrix":     {"internal/floor"},
	"internal/config":     {"internal/floor", "internal/openid"},
	"internal/store":      {"internal/floor", "migrations"},
	"internal/metrics":    {"internal/floor", "internal/store"},
	"internal/decide":     {"internal/floor", "internal/matrix", "internal/store", "internal/metrics", "internal/config"},
	"internal/outbox":     {"internal/floor", "internal/matrix", "internal/store", "internal/metrics", "internal/decide"},
	"internal/appservice": {"internal/floor", "internal/store", "internal/metrics", "internal/decide", "internal/outbox", "internal/matrixhttp"},
	"internal/homeserver": {},
	"internal/livekit":    {},
	"internal/openid":     {},
	"internal/matrixhttp": {},
	"internal/rtcauth":    {"internal/livekit", "internal/openid", "internal/matrixhttp"},
	"internal/webclient":  {},
	"internal/app": {"internal/floor", "internal/matrix", "internal/store", "internal/metrics", "internal/decide",
		"internal/config", "internal/outbox", "internal/appservice", "internal/homeserver", "internal/webclient",
		"internal/floorchannel", "internal/openid", "internal/livekit", "internal/rtcauth"},
	"internal/floorchannel": {"internal/floor", "internal/store", "internal/metrics", "internal/decide", "internal/openid", "internal/config"},
	"cmd/walkie":            {"internal/app", "internal/config"},
}

// foreign are imports the engine must never have.
var foreign = []string{"maunium.net/go/mautrix", "github.com/jackc/pgx"}

func TestPackagesImportOnlyTheLayersBelow(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	const module = "github.com/walkie-ptt/walkie/"
	for pkg, allowed := range layers {
		p, err := build.ImportDir(filepath.Join(root, pkg), 0)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			if pkg == "internal/floor" && slices.ContainsFunc(foreign, func(f string) bool { return strings.HasPrefix(imp, f) }) {
				t.Errorf("the engine imports %s", imp)
			}
			own, ok := strings.CutPrefix(imp, module)
			if ok && !slices.Contains(allowed, own) {
				t.Errorf("%s imports %s; it may import only %v", pkg, own, allowed)
			}
		}
	}
}
