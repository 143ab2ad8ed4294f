package verify

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore is a Store in PostgreSQL, shared by every instance of the
// server, so that a verification sent by one is checked, fetched or
// canceled by any. An entry is a row of verify_entries (its SID, revision,
// index key and sealed record), and a number's pending verification is
// named by a row of verify_index (its keyed hash and the SID), in one
// schema; both carry when they expire, by PostgreSQL's clock, and nothing
// expired is read. Each step is one statement; Create, which must not make
// two verifications for one number however many race, takes an advisory
// lock on the index key, and deletes a bounded batch of expired rows.
type PostgresStore struct {
	pool *pgxpool.Pool
	sql  postgresStatements
}

type postgresStatements struct {
	find, get, create, update, delete string
}

// postgresSchema creates the tables and the function of a PostgresStore in
// schema @schema@; @seed@ keeps its advisory locks apart from another
// schema's. Every statement leaves what exists as it is.
const postgresSchema = `
CREATE SCHEMA IF NOT EXISTS @schema@;

CREATE TABLE IF NOT EXISTS @schema@.verify_entries (
	sid        text        PRIMARY KEY,
	rev        bigint      NOT NULL,
	idx        text        NOT NULL,
	data       bytea       NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS verify_entries_expires_at ON @schema@.verify_entries (expires_at);

CREATE TABLE IF NOT EXISTS @schema@.verify_index (
	key        text        PRIMARY KEY,
	sid        text        NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS verify_index_expires_at ON @schema@.verify_index (expires_at);

-- verify_create_v1 stores a new entry and points its index key at it,
-- unless the key names a live entry, which it returns instead.
CREATE OR REPLACE FUNCTION @schema@.verify_create_v1(p_sid text, p_idx text, p_data bytea, p_ttl bigint,
	OUT o_sid text, OUT o_rev bigint, OUT o_idx text, OUT o_data bytea, OUT o_created boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_expires timestamptz;
BEGIN
	-- Above READ COMMITTED, the snapshot would come before the lock, and
	-- miss the entry a racing Create made.
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'verify: create runs at % isolation; it needs read committed, PostgreSQL''s default',
			current_setting('transaction_isolation');
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended(p_idx, @seed@));
	SELECT e.sid, e.rev, e.idx, e.data INTO o_sid, o_rev, o_idx, o_data
		FROM @schema@.verify_index i JOIN @schema@.verify_entries e ON e.sid = i.sid
		WHERE i.key = p_idx AND i.expires_at > clock_timestamp() AND e.expires_at > clock_timestamp();
	IF FOUND THEN
		o_created := false;
		RETURN;
	END IF;
	DELETE FROM @schema@.verify_entries e WHERE e.sid IN (SELECT x.sid FROM @schema@.verify_entries x
		WHERE x.expires_at <= clock_timestamp() ORDER BY x.expires_at LIMIT 100 FOR UPDATE SKIP LOCKED);
	DELETE FROM @schema@.verify_index i WHERE i.key IN (SELECT x.key FROM @schema@.verify_index x
		WHERE x.expires_at <= clock_timestamp() ORDER BY x.expires_at LIMIT 100 FOR UPDATE SKIP LOCKED);
	v_expires := clock_timestamp() + p_ttl * interval '1 millisecond';
	INSERT INTO @schema@.verify_entries AS e (sid, rev, idx, data, expires_at) VALUES (p_sid, 1, p_idx, p_data, v_expires)
		ON CONFLICT (sid) DO UPDATE SET rev = 1, idx = excluded.idx, data = excluded.data, expires_at = excluded.expires_at;
	INSERT INTO @schema@.verify_index AS i (key, sid, expires_at) VALUES (p_idx, p_sid, v_expires)
		ON CONFLICT (key) DO UPDATE SET sid = excluded.sid, expires_at = excluded.expires_at;
	o_sid := p_sid;
	o_rev := 1;
	o_idx := p_idx;
	o_data := p_data;
	o_created := true;
END $$;
`

// postgresRelations and postgresFunction are what postgresSchema creates,
// for NewPostgresStore to tell whether any is missing.
var postgresRelations = []string{"verify_entries", "verify_entries_expires_at", "verify_index", "verify_index_expires_at"}

const postgresFunction = "verify_create_v1"

var postgresSchemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// NewPostgresStore returns a PostgresStore on pool whose tables are in
// schema (such as "twiliosms", which passcode/pgstore's tables may share),
// creating them when any is missing: several instances may start at once,
// and one that finds everything in place changes nothing. It does not
// close pool.
func NewPostgresStore(ctx context.Context, pool *pgxpool.Pool, schema string) (*PostgresStore, error) {
	if pool == nil {
		return nil, errors.New("verify: postgres: the pool is nil; pass a pool from pgxpool.New")
	}
	if !postgresSchemaName.MatchString(schema) {
		return nil, fmt.Errorf("verify: postgres: schema %q is not a name it can use; give lowercase letters, digits and underscores, not starting with a digit, 63 at most, such as \"twiliosms\"", schema)
	}
	var isolation string
	if err := pool.QueryRow(ctx, "SELECT current_setting('default_transaction_isolation')").Scan(&isolation); err != nil {
		return nil, fmt.Errorf("verify: postgres: %w", err)
	}
	if isolation != "read committed" {
		return nil, fmt.Errorf("verify: postgres: the pool's connections default to %s isolation; Create needs read committed, PostgreSQL's default, to make one verification per number: set default_transaction_isolation to read committed for them", isolation)
	}
	if err := postgresMigrate(ctx, pool, schema); err != nil {
		return nil, fmt.Errorf("verify: postgres: creating the tables in schema %s: %w", schema, err)
	}
	q := pgx.Identifier{schema}.Sanitize() + "."
	return &PostgresStore{pool: pool, sql: postgresStatements{
		find: `SELECT e.sid, e.rev, e.idx, e.data FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n)
			JOIN ` + q + `verify_index i ON i.key = k.key AND i.expires_at > clock_timestamp()
			JOIN ` + q + `verify_entries e ON e.sid = i.sid AND e.expires_at > clock_timestamp()
			ORDER BY k.n LIMIT 1`,
		get: `SELECT e.sid, e.rev, e.idx, e.data FROM ` + q + `verify_entries e
			WHERE e.sid = $1::text AND e.expires_at > clock_timestamp()`,
		create: `SELECT * FROM ` + q + `verify_create_v1($1::text, $2::text, $3::bytea, $4::bigint)`,
		// The UPDATE checks the revision itself, so that of two racing
		// updates from one revision, the second finds the first's.
		update: `WITH cur AS (SELECT e.rev FROM ` + q + `verify_entries e WHERE e.sid = $1::text AND e.expires_at > clock_timestamp()),
			upd AS (UPDATE ` + q + `verify_entries e SET rev = e.rev + 1, data = $3::bytea,
					expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond'
				WHERE e.sid = $1::text AND e.rev = $2::bigint AND e.expires_at > clock_timestamp() RETURNING e.rev, e.idx),
			ix AS (UPDATE ` + q + `verify_index i SET expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond'
				FROM upd WHERE i.key = upd.idx AND i.sid = $1::text)
			SELECT (SELECT cur.rev FROM cur), (SELECT upd.rev FROM upd), (SELECT upd.idx FROM upd)`,
		delete: `WITH d AS (DELETE FROM ` + q + `verify_entries e WHERE e.sid = $1::text)
			DELETE FROM ` + q + `verify_index i WHERE i.key = $2::text AND i.sid = $1::text`,
	}}, nil
}

// postgresMigrate creates what is missing of the store's schema, under an
// advisory lock: concurrent CREATE ... IF NOT EXISTS of one object can
// fail each other.
func postgresMigrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", "twiliosms-server verify "+schema); err != nil {
		return err
	}
	var complete bool
	err = tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1::text AND c.relname = ANY ($2::text[])) = cardinality($2::text[])
		AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname = $1::text AND p.proname = $3::text)`,
		schema, postgresRelations, postgresFunction).Scan(&complete)
	if err != nil {
		return err
	}
	if !complete {
		seed := fnv.New64a()
		seed.Write([]byte("verify " + schema))
		ddl := strings.NewReplacer("@schema@", pgx.Identifier{schema}.Sanitize(),
			"@seed@", strconv.FormatInt(int64(seed.Sum64()), 10)).Replace(postgresSchema)
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// scanEntry scans one entry; none is ErrNotFound.
func scanEntry(row pgx.Row) (Entry, error) {
	var e Entry
	if err := row.Scan(&e.SID, &e.Rev, &e.Index, &e.Data); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Entry{}, ErrNotFound
		}
		return Entry{}, err
	}
	return e, nil
}

// Find implements Store.
func (s *PostgresStore) Find(ctx context.Context, keys []string) (Entry, error) {
	e, err := scanEntry(s.pool.QueryRow(ctx, s.sql.find, pgx.QueryExecModeExec, keys))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Entry{}, fmt.Errorf("verify: postgres: find: %w", err)
	}
	return e, err
}

// Get implements Store.
func (s *PostgresStore) Get(ctx context.Context, sid string) (Entry, error) {
	e, err := scanEntry(s.pool.QueryRow(ctx, s.sql.get, pgx.QueryExecModeExec, sid))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Entry{}, fmt.Errorf("verify: postgres: get: %w", err)
	}
	return e, err
}

// Create implements Store.
func (s *PostgresStore) Create(ctx context.Context, e Entry, ttl time.Duration) (Entry, bool, error) {
	var stored Entry
	var created bool
	err := s.pool.QueryRow(ctx, s.sql.create, pgx.QueryExecModeExec, e.SID, e.Index, e.Data, ttl.Milliseconds()).
		Scan(&stored.SID, &stored.Rev, &stored.Index, &stored.Data, &created)
	if err != nil {
		return Entry{}, false, fmt.Errorf("verify: postgres: create: %w", err)
	}
	return stored, created, nil
}

// Update implements Store.
func (s *PostgresStore) Update(ctx context.Context, e Entry, ttl time.Duration) (Entry, error) {
	var cur, rev *int64
	var index *string
	if err := s.pool.QueryRow(ctx, s.sql.update, pgx.QueryExecModeExec, e.SID, e.Rev, e.Data, ttl.Milliseconds()).Scan(&cur, &rev, &index); err != nil {
		return Entry{}, fmt.Errorf("verify: postgres: update: %w", err)
	}
	switch {
	case rev != nil && index != nil:
		e.Rev, e.Index = *rev, *index
		return e, nil
	case cur == nil:
		return Entry{}, ErrNotFound
	}
	return Entry{}, ErrConflict
}

// Delete implements Store.
func (s *PostgresStore) Delete(ctx context.Context, e Entry) error {
	if _, err := s.pool.Exec(ctx, s.sql.delete, pgx.QueryExecModeExec, e.SID, e.Index); err != nil {
		return fmt.Errorf("verify: postgres: delete: %w", err)
	}
	return nil
}
