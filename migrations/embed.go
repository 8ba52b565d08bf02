// Package migrations holds Walkie's PostgreSQL schema as numbered SQL files,
// embedded into the binary so a deployment is one file.
package migrations

import "embed"

// FS holds NNN_name.sql files, applied in order by internal/store.
//
//go:embed *.sql
var FS embed.FS
