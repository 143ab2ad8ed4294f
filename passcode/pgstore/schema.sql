-- The tables and functions of passcode/pgstore in one schema, written
-- @schema@ here; @seed@ is a number drawn from the schema's name, which
-- keeps its advisory locks apart from another schema's. New runs this,
-- under an advisory lock, when any of it is missing: every statement
-- leaves what exists as it is. A function's name carries its version, so
-- that the instances of an older release keep theirs while a newer one
-- rolls out.
--
-- Every time a step reasons about is the request's, in Unix milliseconds;
-- only drop_at, when the sweeper may delete a row, is by PostgreSQL's
-- clock, so that a service clock that jumps changes no answer.

CREATE SCHEMA IF NOT EXISTS @schema@;

-- The events that sliding windows count: one row per event and key. Two
-- steps that name their events alike still count twice, as the reference
-- store does; n tells them apart.
CREATE TABLE IF NOT EXISTS @schema@.passcode_events (
	key     text        NOT NULL,
	at      bigint      NOT NULL,
	n       bigint      GENERATED ALWAYS AS IDENTITY,
	id      text        NOT NULL,
	drop_at timestamptz NOT NULL,
	PRIMARY KEY (key, at, n)
);
CREATE INDEX IF NOT EXISTS passcode_events_drop_at ON @schema@.passcode_events (drop_at);

-- Codes: one row per key, with the code it replaced (prev_*) for Undo.
CREATE TABLE IF NOT EXISTS @schema@.passcode_codes (
	key               text        PRIMARY KEY,
	mac               bytea       NOT NULL,
	key_id            text        NOT NULL,
	expires_at        bigint      NOT NULL,
	keep_until        bigint      NOT NULL,
	max_attempts      integer     NOT NULL,
	attempts          integer     NOT NULL,
	data              bytea,
	event_id          text        NOT NULL,
	prev_mac          bytea,
	prev_key_id       text,
	prev_expires_at   bigint,
	prev_keep_until   bigint,
	prev_max_attempts integer,
	prev_attempts     integer,
	prev_data         bytea,
	prev_event_id     text,
	drop_at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS passcode_codes_drop_at ON @schema@.passcode_codes (drop_at);

-- Slots: one row per counter; a key's lifetime is kept once, in
-- passcode_slot_keys, since the store keeps all of a key's slots for the
-- longest Keep of its operations.
CREATE TABLE IF NOT EXISTS @schema@.passcode_slots (
	key   text    NOT NULL,
	idx   integer NOT NULL,
	epoch bigint  NOT NULL,
	value bigint  NOT NULL,
	PRIMARY KEY (key, idx)
);
CREATE TABLE IF NOT EXISTS @schema@.passcode_slot_keys (
	key     text        PRIMARY KEY,
	drop_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS passcode_slot_keys_drop_at ON @schema@.passcode_slot_keys (drop_at);

-- passcode_begin_v1 starts a step: it refuses one that reaches PostgreSQL
-- after its caller's deadline, then takes an advisory lock on each of the
-- keys the step changes, in one order (no deadlock), held until the step
-- commits. It waits for them no longer than the caller does, and refuses
-- the step if the deadline passed meanwhile. SQLSTATE TWLAT is a late
-- step: it rolls back, so nothing changes.
--
-- The step's reads must see what the step before it on the same key
-- wrote, once it has the key's lock: only READ COMMITTED takes a snapshot
-- per statement, after the lock; a higher isolation took the step's
-- snapshot before it waited, so a step refuses to run under one (TWISO).
CREATE OR REPLACE FUNCTION @schema@.passcode_begin_v1(p_step text, p_deadline timestamptz, p_keys text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_left double precision;
	v_lock bigint;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION USING ERRCODE = 'TWISO', MESSAGE = format(
			'pgstore: %s runs at %s isolation, and its locks keep windows exact only at read committed, PostgreSQL''s default: '
			'set default_transaction_isolation to read committed for the pool''s connections', p_step, current_setting('transaction_isolation'));
	END IF;
	IF p_deadline IS NOT NULL THEN
		v_left := extract(epoch FROM p_deadline - clock_timestamp()) * 1000;
		IF v_left <= 0 THEN
			RAISE EXCEPTION USING ERRCODE = 'TWLAT', MESSAGE = format(
				'pgstore: %s reached PostgreSQL %s ms after its caller''s deadline', p_step, ceil(-v_left));
		END IF;
		PERFORM set_config('lock_timeout', ceil(v_left)::bigint || 'ms', true);
	END IF;
	FOR v_lock IN SELECT DISTINCT hashtextextended(k.k, @seed@) FROM unnest(p_keys) AS k(k) ORDER BY 1 LOOP
		PERFORM pg_advisory_xact_lock(v_lock);
	END LOOP;
	IF p_deadline IS NOT NULL AND clock_timestamp() >= p_deadline THEN
		RAISE EXCEPTION USING ERRCODE = 'TWLAT', MESSAGE = format(
			'pgstore: %s waited for its keys past its caller''s deadline', p_step);
	END IF;
END $$;

-- passcode_apply_v1 applies slot operations (a JSON array of {k, i, e, v,
-- m, keep}: key, index, epoch, value, OpMax, Keep in ms) in their order, as
-- storage.Apply does. The caller holds their keys' locks.
CREATE OR REPLACE FUNCTION @schema@.passcode_apply_v1(p_ops jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	o record;
BEGIN
	IF p_ops IS NULL OR jsonb_array_length(p_ops) = 0 THEN
		RETURN;
	END IF;
	INSERT INTO @schema@.passcode_slot_keys AS s (key, drop_at)
		SELECT x.o->>'k', clock_timestamp() + max((x.o->>'keep')::bigint) * interval '1 millisecond'
		FROM jsonb_array_elements(p_ops) AS x(o) GROUP BY 1 ORDER BY 1
		ON CONFLICT (key) DO UPDATE SET drop_at = excluded.drop_at WHERE s.drop_at < excluded.drop_at;
	FOR o IN SELECT x.o->>'k' AS k, (x.o->>'i')::integer AS i, (x.o->>'e')::bigint AS e, (x.o->>'v')::bigint AS v,
			coalesce((x.o->>'m')::boolean, false) AS m
		FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS x(o, n) ORDER BY 1, 2, x.n LOOP
		INSERT INTO @schema@.passcode_slots AS s (key, idx, epoch, value) VALUES (o.k, o.i, o.e, o.v)
			ON CONFLICT (key, idx) DO UPDATE SET
				epoch = excluded.epoch,
				value = CASE WHEN excluded.epoch > s.epoch THEN excluded.value
					WHEN o.m THEN greatest(s.value, excluded.value)
					ELSE s.value + excluded.value END
			WHERE s.epoch <= excluded.epoch;
	END LOOP;
END $$;

-- passcode_full_v1 returns, of windows (a JSON array of {k, m, p}: key,
-- Max, Period in ms), the index of the one with no room for one more event
-- at p_now whose room comes last, and how long until it has room; -1 and 0
-- when all have room.
CREATE OR REPLACE FUNCTION @schema@.passcode_full_v1(p_windows jsonb, p_now bigint, OUT o_full integer, OUT o_wait bigint)
LANGUAGE plpgsql AS $$
DECLARE
	w record;
	v_at bigint;
BEGIN
	o_full := -1;
	o_wait := 0;
	FOR w IN SELECT x.o->>'k' AS k, (x.o->>'m')::integer AS m, (x.o->>'p')::bigint AS p, x.n
		FROM jsonb_array_elements(coalesce(p_windows, '[]')) WITH ORDINALITY AS x(o, n) LOOP
		-- Room comes when all but Max-1 of the events in the period have left it.
		SELECT e.at INTO v_at FROM @schema@.passcode_events e
			WHERE e.key = w.k AND e.at > p_now - w.p ORDER BY e.at DESC OFFSET greatest(w.m - 1, 0) LIMIT 1;
		IF FOUND AND (o_full < 0 OR v_at + w.p - p_now > o_wait) THEN
			o_full := w.n - 1;
			o_wait := v_at + w.p - p_now;
		END IF;
	END LOOP;
END $$;

-- passcode_count_v1 records event p_id at p_now once under each key of
-- windows, and drops that key's events older than its longest period.
CREATE OR REPLACE FUNCTION @schema@.passcode_count_v1(p_windows jsonb, p_now bigint, p_id text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	w record;
BEGIN
	FOR w IN SELECT x.o->>'k' AS k, max((x.o->>'p')::bigint) AS p
		FROM jsonb_array_elements(coalesce(p_windows, '[]')) AS x(o) GROUP BY 1 ORDER BY 1 LOOP
		DELETE FROM @schema@.passcode_events e WHERE e.key = w.k AND e.at <= p_now - w.p;
		INSERT INTO @schema@.passcode_events (key, at, id, drop_at)
			VALUES (w.k, p_now, p_id, clock_timestamp() + w.p * interval '1 millisecond');
	END LOOP;
END $$;

-- passcode_equal_v1 compares two MACs in time that does not depend on
-- where they differ.
CREATE OR REPLACE FUNCTION @schema@.passcode_equal_v1(a bytea, b bytea)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
	d integer := 0;
BEGIN
	IF length(a) <> length(b) THEN
		RETURN false;
	END IF;
	FOR i IN 0 .. length(a) - 1 LOOP
		d := d | (get_byte(a, i) # get_byte(b, i));
	END LOOP;
	RETURN d = 0;
END $$;

-- passcode_put_v1 stores code c (a JSON {key, mac, key_id, expires, keep,
-- max, data}), issued as event p_id, in place of its key's code, which it
-- keeps for Undo while that is kept; a resend of the same MAC keeps its
-- tries.
CREATE OR REPLACE FUNCTION @schema@.passcode_put_v1(c jsonb, p_now bigint, p_id text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO @schema@.passcode_codes AS o
		(key, mac, key_id, expires_at, keep_until, max_attempts, attempts, data, event_id, drop_at)
	VALUES (c->>'key', decode(c->>'mac', 'base64'), coalesce(c->>'key_id', ''), (c->>'expires')::bigint,
		(c->>'keep')::bigint, (c->>'max')::integer, 0, decode(c->>'data', 'base64'), p_id,
		clock_timestamp() + ((c->>'keep')::bigint - p_now) * interval '1 millisecond')
	ON CONFLICT (key) DO UPDATE SET
		attempts = CASE WHEN o.keep_until > p_now AND o.mac = excluded.mac THEN o.attempts ELSE 0 END,
		prev_mac = CASE WHEN o.keep_until > p_now THEN o.mac END,
		prev_key_id = CASE WHEN o.keep_until > p_now THEN o.key_id END,
		prev_expires_at = CASE WHEN o.keep_until > p_now THEN o.expires_at END,
		prev_keep_until = CASE WHEN o.keep_until > p_now THEN o.keep_until END,
		prev_max_attempts = CASE WHEN o.keep_until > p_now THEN o.max_attempts END,
		prev_attempts = CASE WHEN o.keep_until > p_now THEN o.attempts END,
		prev_data = CASE WHEN o.keep_until > p_now THEN o.data END,
		prev_event_id = CASE WHEN o.keep_until > p_now THEN o.event_id END,
		mac = excluded.mac, key_id = excluded.key_id, expires_at = excluded.expires_at,
		keep_until = excluded.keep_until, max_attempts = excluded.max_attempts, data = excluded.data,
		event_id = excluded.event_id, drop_at = excluded.drop_at;
END $$;

-- passcode_issue_v1 is storage.Store's Issue: r is a JSON {now, id,
-- windows, locks, code, once, dry, writes, pending}; p_keys are the keys it
-- changes. pending are operations held from earlier writes, applied
-- whatever the answer.
CREATE OR REPLACE FUNCTION @schema@.passcode_issue_v1(p_deadline timestamptz, p_keys text[], r jsonb,
	OUT o_full integer, OUT o_locked boolean, OUT o_retry bigint, OUT o_next bigint, OUT o_duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_now bigint := (r->>'now')::bigint;
	v_key text := coalesce(r->'code'->>'key', '');
	v_wait bigint;
	v_lock integer;
	v_lock_wait bigint;
	v_ops jsonb := coalesce(r->'pending', '[]');
BEGIN
	o_locked := false;
	o_retry := 0;
	o_next := 0;
	o_duplicate := false;
	PERFORM @schema@.passcode_begin_v1('issue', p_deadline, p_keys);
	IF coalesce((r->>'once')::boolean, false)
		AND EXISTS (SELECT 1 FROM @schema@.passcode_codes c WHERE c.key = v_key AND c.keep_until > v_now) THEN
		o_full := -1;
		o_duplicate := true;
	ELSE
		SELECT f.o_full, f.o_wait INTO o_full, v_wait FROM @schema@.passcode_full_v1(r->'windows', v_now) f;
		SELECT f.o_full, f.o_wait INTO v_lock, v_lock_wait FROM @schema@.passcode_full_v1(r->'locks', v_now) f;
		IF v_lock >= 0 AND (o_full < 0 OR v_lock_wait > v_wait) THEN
			o_full := v_lock;
			o_locked := true;
			o_retry := v_lock_wait;
		ELSIF o_full >= 0 THEN
			o_retry := v_wait;
		ELSIF NOT coalesce((r->>'dry')::boolean, false) THEN
			PERFORM @schema@.passcode_count_v1(r->'windows', v_now, r->>'id');
			IF v_key <> '' THEN
				PERFORM @schema@.passcode_put_v1(r->'code', v_now, r->>'id');
			END IF;
			v_ops := v_ops || coalesce(r->'writes', '[]');
			SELECT f.o_wait INTO o_next FROM @schema@.passcode_full_v1(r->'windows', v_now) f;
		END IF;
	END IF;
	PERFORM @schema@.passcode_apply_v1(v_ops);
END $$;

-- passcode_undo_v1 is storage.Store's Undo: r is a JSON {now, id, windows,
-- key, writes, pending}.
CREATE OR REPLACE FUNCTION @schema@.passcode_undo_v1(p_deadline timestamptz, p_keys text[], r jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_now bigint := (r->>'now')::bigint;
	v_id text := r->>'id';
	v_key text := coalesce(r->>'key', '');
BEGIN
	PERFORM @schema@.passcode_begin_v1('undo', p_deadline, p_keys);
	DELETE FROM @schema@.passcode_events e
		WHERE e.key IN (SELECT x.o->>'k' FROM jsonb_array_elements(coalesce(r->'windows', '[]')) AS x(o)) AND e.id = v_id;
	PERFORM @schema@.passcode_apply_v1(coalesce(r->'pending', '[]') || coalesce(r->'writes', '[]'));
	-- While the key still holds this send's code, put back the one it
	-- replaced, or empty the key.
	UPDATE @schema@.passcode_codes c SET
		mac = c.prev_mac, key_id = c.prev_key_id, expires_at = c.prev_expires_at, keep_until = c.prev_keep_until,
		max_attempts = c.prev_max_attempts, attempts = c.prev_attempts, data = c.prev_data, event_id = c.prev_event_id,
		prev_mac = NULL, prev_key_id = NULL, prev_expires_at = NULL, prev_keep_until = NULL,
		prev_max_attempts = NULL, prev_attempts = NULL, prev_data = NULL, prev_event_id = NULL,
		drop_at = clock_timestamp() + (c.prev_keep_until - v_now) * interval '1 millisecond'
		WHERE c.key = v_key AND c.event_id = v_id AND c.prev_mac IS NOT NULL AND c.prev_keep_until > v_now;
	IF NOT FOUND THEN
		DELETE FROM @schema@.passcode_codes c WHERE c.key = v_key AND c.event_id = v_id;
	END IF;
END $$;

-- passcode_check_v1 is storage.Store's Check: r is a JSON {now, id,
-- windows, key, macs, key_ids, take, pending}. o_outcome is a
-- storage.Outcome.
CREATE OR REPLACE FUNCTION @schema@.passcode_check_v1(p_deadline timestamptz, p_keys text[], r jsonb,
	OUT o_outcome integer, OUT o_left integer, OUT o_full integer, OUT o_retry bigint, OUT o_data bytea,
	OUT o_idx integer[], OUT o_epoch bigint[], OUT o_value bigint[])
LANGUAGE plpgsql AS $$
DECLARE
	v_now bigint := (r->>'now')::bigint;
	v_key text := r->>'key';
	v_take text := coalesce(r->>'take', '');
	c record;
	w record;
	v_mac text;
	v_match boolean := false;
	v_count integer;
BEGIN
	o_left := 0;
	PERFORM @schema@.passcode_begin_v1('check', p_deadline, p_keys);
	PERFORM @schema@.passcode_apply_v1(r->'pending');
	SELECT f.o_full, f.o_wait INTO o_full, o_retry FROM @schema@.passcode_full_v1(r->'windows', v_now) f;
	IF o_full >= 0 THEN
		o_outcome := 1; -- OutcomeLimited
		RETURN;
	END IF;
	SELECT * INTO c FROM @schema@.passcode_codes x WHERE x.key = v_key;
	IF NOT FOUND OR c.keep_until <= v_now THEN
		o_outcome := 2; -- OutcomeNotFound
		RETURN;
	ELSIF c.expires_at <= v_now THEN
		o_outcome := 3; -- OutcomeExpired
		RETURN;
	ELSIF c.key_id <> '' AND NOT c.key_id = ANY (ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'key_ids', '[]')))) THEN
		o_outcome := 4; -- OutcomeUnknownKey
		RETURN;
	ELSIF c.attempts >= c.max_attempts THEN
		o_outcome := 5; -- OutcomeTooManyAttempts
		RETURN;
	END IF;
	-- Every candidate is compared, a match or not.
	FOR v_mac IN SELECT jsonb_array_elements_text(coalesce(r->'macs', '[]')) LOOP
		IF @schema@.passcode_equal_v1(c.mac, decode(v_mac, 'base64')) THEN
			v_match := true;
		END IF;
	END LOOP;
	IF v_match THEN
		DELETE FROM @schema@.passcode_codes x WHERE x.key = v_key;
		o_data := c.data;
		IF v_take <> '' THEN
			WITH t AS (DELETE FROM @schema@.passcode_slots s WHERE s.key = v_take RETURNING s.idx, s.epoch, s.value)
			SELECT array_agg(t.idx ORDER BY t.idx), array_agg(t.epoch ORDER BY t.idx), array_agg(t.value ORDER BY t.idx)
				INTO o_idx, o_epoch, o_value FROM t;
		END IF;
		o_outcome := 7; -- OutcomeMatch
		RETURN;
	END IF;
	UPDATE @schema@.passcode_codes x SET attempts = x.attempts + 1 WHERE x.key = v_key;
	PERFORM @schema@.passcode_count_v1(r->'windows', v_now, r->>'id');
	o_left := c.max_attempts - c.attempts - 1;
	FOR w IN SELECT x.o->>'k' AS k, (x.o->>'m')::integer AS m, (x.o->>'p')::bigint AS p
		FROM jsonb_array_elements(coalesce(r->'windows', '[]')) AS x(o) LOOP
		SELECT count(*) INTO v_count FROM (SELECT 1 FROM @schema@.passcode_events e
			WHERE e.key = w.k AND e.at > v_now - w.p LIMIT w.m) AS n;
		o_left := least(o_left, w.m - v_count);
	END LOOP;
	o_left := greatest(o_left, 0);
	o_data := c.data;
	o_outcome := 6; -- OutcomeMismatch
END $$;

-- passcode_read_v1 is storage.Store's Read: r is a JSON {keys, indexes,
-- take, shared, pending}. o_n places a slot among keys and then shared,
-- from 1.
CREATE OR REPLACE FUNCTION @schema@.passcode_read_v1(p_deadline timestamptz, p_keys text[], r jsonb)
RETURNS TABLE (o_n integer, o_idx integer, o_epoch bigint, o_value bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_keys text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'keys', '[]')));
	v_shared text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'shared', '[]')));
	v_indexes integer[];
BEGIN
	IF jsonb_typeof(r->'indexes') = 'array' THEN
		v_indexes := ARRAY(SELECT jsonb_array_elements_text(r->'indexes')::integer);
	END IF;
	PERFORM @schema@.passcode_begin_v1('read', p_deadline, p_keys);
	PERFORM @schema@.passcode_apply_v1(r->'pending');
	IF coalesce((r->>'take')::boolean, false) THEN
		RETURN QUERY WITH t AS (
			DELETE FROM @schema@.passcode_slots s USING unnest(v_keys) WITH ORDINALITY AS k(k, n)
			WHERE s.key = k.k AND (v_indexes IS NULL OR s.idx = ANY (v_indexes))
			RETURNING k.n, s.idx, s.epoch, s.value)
		SELECT t.n::integer, t.idx, t.epoch, t.value FROM t;
	ELSE
		RETURN QUERY SELECT k.n::integer, s.idx, s.epoch, s.value
			FROM unnest(v_keys) WITH ORDINALITY AS k(k, n) JOIN @schema@.passcode_slots s ON s.key = k.k
			WHERE v_indexes IS NULL OR s.idx = ANY (v_indexes);
	END IF;
	RETURN QUERY SELECT (cardinality(v_keys) + k.n)::integer, s.idx, s.epoch, s.value
		FROM unnest(v_shared) WITH ORDINALITY AS k(k, n) JOIN @schema@.passcode_slots s ON s.key = k.k;
END $$;

-- passcode_write_v1 applies slot operations, under their keys' locks.
CREATE OR REPLACE FUNCTION @schema@.passcode_write_v1(p_keys text[], p_ops jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM @schema@.passcode_begin_v1('write', NULL, p_keys);
	PERFORM @schema@.passcode_apply_v1(p_ops);
END $$;

-- passcode_sweep_v1 deletes up to p_batch expired codes, events and slot
-- keys (with their slots), skipping rows a step holds, and says whether a
-- batch was full: whether there may be more. Every instance may run it at
-- once: each skips the rows another has taken.
CREATE OR REPLACE FUNCTION @schema@.passcode_sweep_v1(p_batch integer, OUT o_deleted bigint, OUT o_more boolean)
LANGUAGE plpgsql AS $$
DECLARE
	v_codes bigint;
	v_events bigint;
	v_keys bigint;
	v_slots bigint;
BEGIN
	PERFORM set_config('lock_timeout', '1000ms', true);
	WITH d AS (
		DELETE FROM @schema@.passcode_codes c WHERE c.key IN (
			SELECT x.key FROM @schema@.passcode_codes x WHERE x.drop_at < clock_timestamp()
			ORDER BY x.drop_at LIMIT p_batch FOR UPDATE SKIP LOCKED)
		AND c.drop_at < clock_timestamp() RETURNING 1)
	SELECT count(*) INTO v_codes FROM d;
	WITH d AS (
		DELETE FROM @schema@.passcode_events e WHERE (e.key, e.at, e.n) IN (
			SELECT x.key, x.at, x.n FROM @schema@.passcode_events x WHERE x.drop_at < clock_timestamp()
			ORDER BY x.drop_at LIMIT p_batch FOR UPDATE SKIP LOCKED) RETURNING 1)
	SELECT count(*) INTO v_events FROM d;
	WITH k AS (
		DELETE FROM @schema@.passcode_slot_keys sk WHERE sk.key IN (
			SELECT x.key FROM @schema@.passcode_slot_keys x WHERE x.drop_at < clock_timestamp()
			ORDER BY x.drop_at LIMIT p_batch FOR UPDATE SKIP LOCKED)
		AND sk.drop_at < clock_timestamp() RETURNING sk.key),
	d AS (DELETE FROM @schema@.passcode_slots s WHERE s.key IN (SELECT k.key FROM k) RETURNING 1)
	SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM d) INTO v_keys, v_slots;
	o_deleted := v_codes + v_events + v_keys + v_slots;
	o_more := v_codes = p_batch OR v_events = p_batch OR v_keys = p_batch;
END $$;
