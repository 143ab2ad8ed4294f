package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/hooks"
	"github.com/connectorkit/twiliosms/passcode"
)

// relayAnswer is a hooks.Relayer that answers what the test says.
type relayAnswer struct {
	res *hooks.Relayed
	err error
}

func (r relayAnswer) Relay(context.Context, hooks.RelayRequest) (*hooks.Relayed, error) {
	return r.res, r.err
}

func TestRelayedSendsAreCountedAsSends(t *testing.T) {
	conn, err := twiliosms.New(twiliosms.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: twiliosms.NewSecret("token"),
		FromMessagingServiceSID: "MG0123456789abcdef0123456789abcdef", Templates: devTemplates})
	require.NoError(t, err)
	m := NewMetrics()
	relay := func(to string, r relayAnswer) {
		_, _ = meteredRelays{Relayer: r, conn: conn, metrics: m}.Relay(context.Background(), hooks.RelayRequest{To: to})
	}
	relay("+4915112345678", relayAnswer{res: &hooks.Relayed{SendResult: &twiliosms.SendResult{}}})
	relay("4915112345678", relayAnswer{res: &hooks.Relayed{Duplicate: true}})
	relay("+14155552671", relayAnswer{err: &passcode.FraudError{Signal: "unverified_to_range"}})
	relay("+14155552671", relayAnswer{err: fmt.Errorf("%w", &twiliosms.APIError{Code: 21612})})
	relay("not a number", relayAnswer{err: twiliosms.ErrInvalidPhoneNumber})

	assert.Equal(t, 1.0, testutil.ToFloat64(m.Sends.WithLabelValues("sent", "DE")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Sends.WithLabelValues("duplicate", "DE")), "Logto's digits-only number reads too")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Sends.WithLabelValues("fraud_guard", "US")))
	assert.Equal(t, 0, testutil.CollectAndCount(m.GuardDecisions), "the guard's decisions are counted where it makes them, once")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.TwilioErrors.WithLabelValues("21612")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Sends.WithLabelValues("invalid_parameter", "unknown")))
}

func TestGuardDecisionsAreCountedWithBoundedLabels(t *testing.T) {
	m := NewMetrics()
	ctx := context.Background()
	m.guardDecision(ctx, passcode.GuardDecision{Decision: "refused", Signal: "unverified_to_range"})
	m.guardDecision(ctx, passcode.GuardDecision{Decision: "recorded", Signal: "unverified_to_range"})
	m.guardDecision(ctx, passcode.GuardDecision{Decision: "door", Signal: "unverified_to_country"})
	m.guardDecision(ctx, passcode.GuardDecision{Decision: "made up", Signal: "unverified_to_country"})
	assert.Equal(t, 1.0, testutil.ToFloat64(m.GuardDecisions.WithLabelValues("refused", "unverified_to_range")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.GuardDecisions.WithLabelValues("recorded", "unverified_to_range")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.GuardDecisions.WithLabelValues("door", "unverified_to_country")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.GuardDecisions.WithLabelValues("other", "unverified_to_country")))
	for i := range 100 {
		m.guardDecision(ctx, passcode.GuardDecision{Decision: "refused", Signal: fmt.Sprintf("signal_%d", i)})
	}
	assert.LessOrEqual(t, testutil.CollectAndCount(m.GuardDecisions), 4+20+1, "signals beyond the first 20 count as other")
	assert.Positive(t, testutil.ToFloat64(m.GuardDecisions.WithLabelValues("refused", "other")))
}

func TestDeliveryStatusLabelsAreTwiliosOnly(t *testing.T) {
	for _, status := range []string{"delivered", "undelivered", "failed", "sent", "queued"} {
		assert.Equal(t, status, deliveryStatusLabel(status))
	}
	for _, status := range []string{"", "Delivered", "made-up", "undelivered\n"} {
		assert.Equal(t, "other", deliveryStatusLabel(status), "%q", status)
	}
}
