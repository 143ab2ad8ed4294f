package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// sharedStoreRun creates a verification on one instance and checks it on
// the other, a resend in between, and returns the code.
func sharedStoreRun(t *testing.T, a, b *proc, fake *twiliosmstest.Server, to string) string {
	t.Helper()
	a.login()
	b.login()
	r := a.do("POST", a.verifications(), url.Values{"To": {to}, "Channel": {"sms"}, "DeviceIp": {"203.0.113.9"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	sid := r.body["sid"].(string)
	f := b.do("GET", b.verifications()+"/"+sid, nil)
	require.Equal(t, http.StatusOK, f.status, f.text)
	assert.Equal(t, "pending", f.body["status"])
	r = b.do("POST", b.verifications(), url.Values{"To": {to}, "Channel": {"sms"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	assert.Equal(t, sid, r.body["sid"], "a resend on the other instance keeps the SID")
	var codes []string
	for _, m := range fake.Messages() {
		if m.To == to {
			codes = append(codes, sixDigits.FindString(m.Body))
		}
	}
	require.Len(t, codes, 2)
	assert.Equal(t, codes[0], codes[1], "the resend texts the same code")
	r = b.do("POST", b.checks(), url.Values{"To": {to}, "Code": {"000000"}})
	require.Equal(t, http.StatusOK, r.status, r.text)
	assert.Equal(t, "pending", r.body["status"], "a wrong code")
	r = a.do("POST", a.checks(), url.Values{"To": {to}, "Code": {codes[0]}})
	require.Equal(t, http.StatusOK, r.status, r.text)
	assert.Equal(t, "approved", r.body["status"], "the first SMS's code, on the first instance")
	assert.Equal(t, http.StatusNotFound, b.do("GET", b.verifications()+"/"+sid, nil).status, "approved on one, gone on both")
	assert.Equal(t, http.StatusOK, a.do("GET", "/readyz", nil).status)
	return codes[0]
}

func TestTwoInstancesShareOnePostgreSQL(t *testing.T) {
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	defer fake.Close()
	env, args := production(t, fake.URL, "DATABASE_URL="+pgtest.URL(t), "TWILIOSMS_DATABASE_SCHEMA="+schema)
	ready := regexp.MustCompile(`kept in PostgreSQL`)
	a, b := start(t, env, ready, args...), start(t, env, ready, args...)
	const to = "+14155552671"
	code := sharedStoreRun(t, a, b, fake, to)

	// A verification pending when every instance stops is there for the
	// next one.
	r := a.do("POST", a.verifications(), url.Values{"To": {"+14155552672"}, "Channel": {"sms"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	sid := r.body["sid"].(string)
	require.NoError(t, a.stop())
	require.NoError(t, b.stop())
	c := start(t, env, ready, args...)
	c.login()
	f := c.do("GET", c.verifications()+"/"+sid, nil)
	require.Equal(t, http.StatusOK, f.status, f.text)
	assert.Equal(t, "pending", f.body["status"])

	// Nothing in the tables holds a number or a code in clear.
	rows, err := pool.Query(context.Background(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, tables)
	var all strings.Builder
	for _, table := range tables {
		rows, err := pool.Query(context.Background(), `SELECT t::text FROM `+pgx.Identifier{schema, table}.Sanitize()+` t`)
		require.NoError(t, err)
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		all.WriteString(strings.Join(texts, "\n"))
	}
	require.NotEmpty(t, all.String(), "the servers keep their state in these tables")
	for _, clear := range []string{"4155552671", "4155552672", code} {
		assert.NotContains(t, all.String(), clear)
	}
}

func TestTwoInstancesShareARedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	addrs := cluster.Addrs()
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	defer fake.Close()
	redisURL := "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
	env, args := production(t, fake.URL, "REDIS_URL="+redisURL)
	ready := regexp.MustCompile(`kept in Redis`)
	a, b := start(t, env, ready, args...), start(t, env, ready, args...)
	sharedStoreRun(t, a, b, fake, "+14155552671")
	for i := range 6 { // numbers whose keys land on every master
		to := "+1415555" + strings.Repeat("0", 3) + string(rune('0'+i))
		r := a.do("POST", a.verifications(), url.Values{"To": {to}, "Channel": {"sms"}})
		require.Equal(t, http.StatusCreated, r.status, r.text)
		f := b.do("GET", b.verifications()+"/"+r.body["sid"].(string), nil)
		require.Equal(t, http.StatusOK, f.status, f.text)
	}
}
