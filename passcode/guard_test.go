package passcode

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode/memstore"
)

func TestWithFraudGuardRejectsBadOptions(t *testing.T) {
	conn, _ := fakeConnector(t)
	for _, tt := range []struct {
		guard FraudGuard
		want  string
	}{
		{FraudGuard{Mode: GuardMode(7)}, "passcode: WithFraudGuard: Mode 7 is not GuardDeny, GuardRecordOnly or GuardOff"},
		{FraudGuard{AllowRegions: []string{"US", "UK"}}, `AllowRegions has "UK", which is not an ISO 3166-1 region code`},
		{FraudGuard{AllowRegions: []string{"us"}}, `AllowRegions has "us"`},
		{FraudGuard{AllowNetworks: []netip.Prefix{{}}}, "AllowNetworks[0] is not a valid prefix"},
		{FraudGuard{RememberVerified: -time.Second}, "RememberVerified must be between 0 (90 days) and 9600h0m0s, not -1s"},
		{FraudGuard{RememberVerified: 401 * 24 * time.Hour}, "RememberVerified must be between"},
	} {
		s, err := New(conn, WithSecret(testSecret), WithFraudGuard(tt.guard))
		assert.Nil(t, s)
		require.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
		assert.Contains(t, err.Error(), tt.want)
	}
}

func TestFraudErrorAndLogto(t *testing.T) {
	err := error(&FraudError{Signal: "unverified_to_range", RetryAfter: 90*time.Minute + 400*time.Millisecond})
	assert.Equal(t, "passcode: suspected SMS pumping (unverified_to_range); try again in 1h30m0s", err.Error())
	assert.ErrorIs(t, err, ErrSuspectedFraud)
	assert.NotErrorIs(t, err, ErrTooManySends)
	assert.Equal(t, LogtoMessageRateLimited, LogtoErrorCode(fmt.Errorf("wrapped: %w", err)))
}

func TestGuardModeString(t *testing.T) {
	assert.Equal(t, "deny", GuardDeny.String())
	assert.Equal(t, "record-only", GuardRecordOnly.String())
	assert.Equal(t, "off", GuardOff.String())
	assert.Equal(t, "GuardMode(9)", GuardMode(9).String())
}

func TestGuardRegions(t *testing.T) {
	for number, want := range map[string]string{
		"+14155552671":  "US",
		"+18765550123":  "JM", // shares +1 with the US, and is pumped for it
		"+16135550123":  "CA",
		"+447400123456": "GB",
		"+447781123456": "GG",
		"+4930123456":   "DE",
		"+79123456789":  "RU",
		"+77012345678":  "KZ",
		"+15555555555":  "+1", // +1, but no region's number
		"+999123":       "?",  // no calling code
	} {
		assert.Equal(t, want, numberRegions.region(number, twiliosms.Phone{}), number)
		assert.Equal(t, want, numberRegions.region(number, twiliosms.Phone{}), "%s, from the cache", number)
	}
}

func TestNumberRange(t *testing.T) {
	assert.Equal(t, "+1415555", numberRange("+14155552671"))
	assert.Equal(t, "+44740012", numberRange("+447400123456"))
	assert.Equal(t, "+683", numberRange("+6834002"), "never shorter than + and three digits")
	assert.Equal(t, "+12", numberRange("+12"))
}

func TestGuardOffKeepsNothing(t *testing.T) {
	conn, fake := fakeConnector(t)
	store := &countingStore{Store: memstore.New()}
	s, err := New(conn, WithSecret(testSecret), WithStore(store), WithFraudGuard(FraudGuard{Mode: GuardOff}), WithLimits())
	require.NoError(t, err)
	for i := range 30 {
		_, err := s.Send(background, Request{To: fmt.Sprintf("+1415555%04d", 2600+i), UsageType: twiliosms.UsageTypeSignIn, IP: "203.0.113.7"})
		require.NoError(t, err, "no guard: 30 unverified codes to one range from one address")
	}
	_, err = s.Verify(background, VerifyRequest{To: "+14155552629", UsageType: twiliosms.UsageTypeSignIn, Code: lastCode(fake.Messages()[29].Body)})
	require.NoError(t, err)
	assert.Equal(t, int32(31), store.steps.Load(), "an Issue per send and a Check: no read of the guard's counts")
	assert.Zero(t, store.writes.Load(), "nor any write")
}

func lastCode(body string) string {
	for _, f := range strings.Fields(body) {
		if len(f) == 6 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	return ""
}

func TestARefusedSendCountsAgainstNoLimit(t *testing.T) {
	conn, fake := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret), WithFraudGuard(FraudGuard{Logger: slog.New(slog.DiscardHandler)}))
	require.NoError(t, err)
	for i := range 10 {
		_, err := s.Send(background, Request{To: fmt.Sprintf("+1415555%04d", 2600+i), UsageType: twiliosms.UsageTypeSignIn})
		require.NoError(t, err)
	}
	for range 3 {
		_, err := s.Send(background, Request{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn})
		require.ErrorIs(t, err, ErrSuspectedFraud, "refused by the guard each time, never by the number's cooldown: no send was counted")
	}
	assert.Len(t, fake.Messages(), 10)
}

func TestServicePrintsItsGuard(t *testing.T) {
	conn, _ := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret), WithFraudGuard(FraudGuard{Mode: GuardRecordOnly, AllowRegions: []string{"US", "CA"}}))
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprint(s), "FraudGuard:{Mode:record-only AllowRegions:2 AllowNetworks:0 RememberVerified:2160h0m0s}")
	def, err := New(conn, WithSecret(testSecret))
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprint(def), "FraudGuard:{Mode:deny AllowRegions:0 AllowNetworks:0 RememberVerified:2160h0m0s}", "on by default")
}

func TestRelayThresholdFollowsTheMedianDayUpToItsCeiling(t *testing.T) {
	days := []int64{4, 4, 4, 4, 4, 4, 4, 4, 90, 90, 90, 90, 90, 90}
	assert.Equal(t, int64(4), median(slices.Clone(days)), "six busy days of fourteen do not move it")
	assert.Equal(t, int64(47), median(append(slices.Clone(days), 90)[1:]), "seven of fourteen do, halfway")
	c := scopeCounts{relayTypical: 40}
	assert.Equal(t, hourWeight*120, c.relayThreshold(10, 0), "three times the median day")
	assert.Equal(t, hourWeight*100, c.relayThreshold(10, 100), "never past the ceiling")
	assert.Equal(t, hourWeight*10, scopeCounts{}.relayThreshold(10, 100), "never under the floor")
}
