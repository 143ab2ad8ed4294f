package verify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/passcode"
)

// ctxStore is a MemoryStore that fails a step whose context has ended, as
// a Redis client does.
type ctxStore struct{ *MemoryStore }

func (s ctxStore) Find(ctx context.Context, keys []string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	return s.MemoryStore.Find(ctx, keys)
}

func (s ctxStore) Get(ctx context.Context, sid string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	return s.MemoryStore.Get(ctx, sid)
}

func (s ctxStore) Create(ctx context.Context, e Entry, ttl time.Duration) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	return s.MemoryStore.Create(ctx, e, ttl)
}

func (s ctxStore) Update(ctx context.Context, e Entry, ttl time.Duration) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	return s.MemoryStore.Update(ctx, e, ttl)
}

func (s ctxStore) Delete(ctx context.Context, e Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.MemoryStore.Delete(ctx, e)
}

// hangUp sends through codes, and then ends the request's context, as a
// client that gives up while Twilio answers.
type hangUp struct {
	Codes
	cancel context.CancelFunc
}

func (h hangUp) Send(ctx context.Context, r passcode.Request) (*passcode.Sent, error) {
	sent, err := h.Codes.Send(ctx, r)
	h.cancel()
	return sent, err
}

// TestACodeThatWentOutIsVerifiableWhenTheClientHangsUp: the SMS went out,
// so its verification is recorded even though the client that asked for
// it is gone, and its code verifies.
func TestACodeThatWentOutIsVerifiableWhenTheClientHangsUp(t *testing.T) {
	e := newEnv(t)
	e.svc.store = ctxStore{e.store}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.codes = hangUp{Codes: e.svc.codes, cancel: cancel}
	_, _ = e.svc.Start(ctx, StartRequest{To: number})
	require.Len(t, e.fake.Messages(), 1, "the SMS went out")
	r := e.check(url.Values{"To": {number}, "Code": {e.lastCode()}})
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	assert.Equal(t, "approved", r.body["status"])
}

// brokenWrites is a MemoryStore whose Update and Delete fail.
type brokenWrites struct{ *MemoryStore }

func (brokenWrites) Update(context.Context, Entry, time.Duration) (Entry, error) {
	return Entry{}, errors.New("redis: connection reset by peer")
}
func (brokenWrites) Delete(context.Context, Entry) error {
	return errors.New("redis: connection reset by peer")
}

// TestBestEffortWritesThatFailAreLogged: the writes whose failure the
// answer does not show (deleting an approved verification, locking one)
// are logged, with its SID and without the number or the code.
func TestBestEffortWritesThatFailAreLogged(t *testing.T) {
	e := newEnv(t)
	logs := &bytes.Buffer{}
	e.svc.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	e.svc.store = brokenWrites{e.store}

	sid := e.start(number).body["sid"].(string)
	code := e.lastCode()
	r := e.check(url.Values{"To": {number}, "Code": {code}})
	require.Equal(t, "approved", r.body["status"], "the check succeeds though the record stays")
	assert.Contains(t, logs.String(), `"sid":"`+sid+`"`)
	assert.Contains(t, logs.String(), "connection reset by peer")
	approved := logs.Len()

	other := "+14155552672"
	e.start(other)
	for range MaxChecks {
		e.check(url.Values{"To": {other}, "Code": {wrong(e.lastCode())}})
	}
	assert.Greater(t, logs.Len(), approved, "the failed lock is logged")
	assert.Contains(t, logs.String()[approved:], "connection reset by peer")
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		assert.NotContains(t, line, "4155552671")
		assert.NotContains(t, line, "4155552672")
		assert.NotContains(t, line, code)
	}
}
