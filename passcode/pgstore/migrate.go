package pgstore

import (
	"context"
	_ "embed"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaSQL creates the Store's tables and functions; see its comments.
//
//go:embed schema.sql
var schemaSQL string

// The tables, indexes and functions schemaSQL creates, read from it, so
// that New can tell whether any is missing.
var relations, functions = names(`CREATE (?:TABLE|INDEX) IF NOT EXISTS (?:@schema@\.)?(\w+)`), names(`CREATE OR REPLACE FUNCTION @schema@\.(\w+)`)

func names(pattern string) []string {
	var out []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(schemaSQL, -1) {
		out = append(out, m[1])
	}
	return out
}

// ddl is schemaSQL for schema.
func ddl(schema string) string {
	seed := fnv.New64a()
	seed.Write([]byte(schema))
	return strings.NewReplacer("@schema@", pgx.Identifier{schema}.Sanitize(),
		"@seed@", strconv.FormatInt(int64(seed.Sum64()), 10)).Replace(schemaSQL)
}

// migrate creates what is missing of the Store's schema. Concurrent
// CREATE ... IF NOT EXISTS statements of one object can fail each other,
// so instances starting at once take turns on an advisory lock; one that
// finds everything in place changes nothing, and so needs no right to
// create anything.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", "twiliosms passcode/pgstore "+schema); err != nil {
		return err
	}
	var complete bool
	err = tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1::text AND c.relname = ANY ($2::text[])) = cardinality($2::text[])
		AND (SELECT count(DISTINCT p.proname) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = $1::text AND p.proname = ANY ($3::text[])) = cardinality($3::text[])`,
		schema, relations, functions).Scan(&complete)
	if err != nil {
		return err
	}
	if !complete {
		if _, err := tx.Exec(ctx, ddl(schema)); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}
