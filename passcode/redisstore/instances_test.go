package redisstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/passcode/storetest"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// The second instance is this test binary run again, as another OS
// process, with these variables; it reads commands on stdin.
const (
	instanceEnv = "TWILIOSMS_SECOND_INSTANCE"
	redisEnv    = "TWILIOSMS_INSTANCE_REDIS"
	prefixEnv   = "TWILIOSMS_INSTANCE_PREFIX"
	fakeEnv     = "TWILIOSMS_INSTANCE_FAKE"
)

// sharedLimits are both instances' limits: three sends per number an hour.
var sharedLimits = passcode.WithLimits(passcode.Limit{Scope: passcode.SendsToRecipient, Max: 3, Window: time.Hour})

func instanceService(t *testing.T, client redis.UniversalClient, p, fakeURL string) *passcode.Service {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	conn, err := twiliosms.New(storetest.Config(), twiliosms.WithBaseURL(fakeURL), twiliosms.WithHTTPClient(&http.Client{Transport: transport}))
	require.NoError(t, err)
	store, err := redisstore.New(client, redisstore.WithPrefix(p))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	s, err := passcode.New(conn, passcode.WithSecret(storetest.Secret), passcode.WithStore(store), sharedLimits)
	require.NoError(t, err)
	return s
}

// TestSecondInstance is the second instance's main loop; it does nothing
// unless started by TestTwoInstances. Commands: "verify NUMBER CODE N"
// (N verifications at once; answers "ok=K"), "send NUMBER" (answers "sent"
// or "limited"), "quit".
func TestSecondInstance(t *testing.T) {
	if os.Getenv(instanceEnv) == "" {
		t.Skip("run by TestTwoInstances as a second process")
	}
	client := redis.NewClient(&redis.Options{Addr: os.Getenv(redisEnv), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	s := instanceService(t, client, os.Getenv(prefixEnv), os.Getenv(fakeEnv))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "verify":
			var n int
			_, _ = fmt.Sscan(f[3], &n)
			fmt.Printf("ok=%d\n", verifyAtOnce(s, f[1], f[2], n))
		case "send":
			_, err := s.Send(ctx, passcode.Request{To: f[1], UsageType: twiliosms.UsageTypeSignIn})
			switch {
			case err == nil:
				fmt.Println("sent")
			case errors.Is(err, passcode.ErrTooManySends):
				fmt.Println("limited")
			default:
				fmt.Println("error", err)
			}
		case "quit":
			return
		}
	}
}

// verifyAtOnce runs n verifications of code at once and counts successes.
func verifyAtOnce(s *passcode.Service, number, code string, n int) int {
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Verify(ctx, passcode.VerifyRequest{To: number, UsageType: twiliosms.UsageTypeSignIn, Code: code}); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

// TestTwoInstances runs two instances of a service, in two OS processes, on
// one Redis: a code sent by one verifies in the other, 50 racing
// verifications split across both give one success, and the send limit
// counts the sends of both.
func TestTwoInstances(t *testing.T) {
	server := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	p := prefix()
	first := instanceService(t, client, p, fake.URL)

	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInstance$", "-test.count=1")
	cmd.Env = append(os.Environ(), instanceEnv+"=1", redisEnv+"="+server.Addr, prefixEnv+"="+p, fakeEnv+"="+fake.URL)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	out := bufio.NewScanner(stdout)
	second := func(command string) string {
		t.Helper()
		_, err := io.WriteString(stdin, command+"\n")
		require.NoError(t, err)
		require.True(t, out.Scan(), "the second instance answered")
		return out.Text()
	}
	defer func() {
		_, _ = io.WriteString(stdin, "quit\n")
		_ = stdin.Close()
		assert.NoError(t, cmd.Wait(), "the second instance ended cleanly")
	}()
	lastCode := func() string {
		msgs := fake.Messages()
		return storetest.CodeIn(msgs[len(msgs)-1].Body)
	}

	// A code sent by the first verifies in the second, once.
	_, err = first.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err)
	code := lastCode()
	assert.Equal(t, "ok=1", second("verify "+storetest.Number+" "+code+" 1"))
	_, err = first.Verify(ctx, passcode.VerifyRequest{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn, Code: code})
	assert.ErrorIs(t, err, passcode.ErrCodeNotFound)

	// 50 racing verifications, 25 in each process: one success in all.
	assert.Equal(t, "sent", second("send "+storetest.Number))
	code = lastCode()
	var secondAnswer string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.WriteString(stdin, "verify "+storetest.Number+" "+code+" 25\n")
		if out.Scan() {
			secondAnswer = out.Text()
		}
	}()
	firstOK := verifyAtOnce(first, storetest.Number, code, 25)
	wg.Wait()
	var secondOK int
	_, _ = fmt.Sscanf(secondAnswer, "ok=%d", &secondOK)
	assert.Equal(t, 1, firstOK+secondOK, "exactly one success across both instances (first %d, second %q)", firstOK, secondAnswer)

	// The limit (three an hour) counts both instances' sends: two so far.
	_, err = first.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err)
	assert.Equal(t, "limited", second("send "+storetest.Number))
	_, err = first.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
	assert.ErrorIs(t, err, passcode.ErrTooManySends)
	assert.Len(t, fake.Messages(), 3)
}
