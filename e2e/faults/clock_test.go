package faults

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// processClock are the functions that read this process's clock.
var processClock = map[string]bool{"Now": true, "Since": true, "Until": true}

// Floor decisions and their deadlines never read the process clock: the
// engine gets the database's time from the store (floor.Env.Now) and the
// store compares deadlines with clock_timestamp(), so replicas whose clocks
// disagree still agree on every timer. This keeps it that way: a call to
// time.Now, time.Since or time.Until in the engine or the store fails here.
// internal/store's TestTimersRunOnTheDatabaseClock shows the behaviour.
func TestDecisionsNeverReadTheProcessClock(t *testing.T) {
	checked := 0
	for _, dir := range []string{"../../internal/floor", "../../internal/store"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			for _, use := range processClockUses(t, path) {
				t.Errorf("%s reads the process clock (time.%s); decisions must use the database's clock", use.pos, use.name)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files: the package paths are wrong", checked)
	}
}

type clockUse struct {
	pos  token.Position
	name string
}

func processClockUses(t *testing.T, path string) []clockUse {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	timeName := ""
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	if timeName == "" {
		return nil
	}
	var uses []clockUse
	ast.Inspect(file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == timeName && processClock[sel.Sel.Name] {
			uses = append(uses, clockUse{pos: fset.Position(sel.Pos()), name: sel.Sel.Name})
		}
		return true
	})
	return uses
}

// The scan finds a clock read however the time package is imported.
func TestProcessClockUsesAreFound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.go")
	src := "package x\n\nimport clock \"time\"\n\nfunc f() { _ = clock.Now(); _ = clock.Since(clock.Time{}); _ = clock.Duration(1) }\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	uses := processClockUses(t, path)
	if len(uses) != 2 || uses[0].name != "Now" || uses[1].name != "Since" {
		t.Fatalf("found %+v; want Now and Since", uses)
	}
}
