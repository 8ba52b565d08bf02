package config

import (
	_ "embed"
	"slices"
)

// The repository root keeps copies of the example config and of the
// registration it yields, for people reading the repository; a test checks
// they match. Refresh them after editing example.yaml or the registration:
//
//go:generate go test -run TestRootExamples -update .

//go:embed example.yaml
var exampleYAML []byte

// ExampleYAML is the fully commented example configuration (walkie -e).
func ExampleYAML() []byte { return slices.Clone(exampleYAML) }
