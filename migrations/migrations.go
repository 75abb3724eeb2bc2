// Package migrations holds the schema as SQL files, embedded into the binary
// and applied in order by goose (see internal/db.Migrator).
package migrations

import "embed"

// FS holds the numbered SQL migrations.
//
//go:embed *.sql
var FS embed.FS
