package twiliosms

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeMessage(t *testing.T) {
	res, err := decodeMessage(201, []byte(createdBody))
	require.NoError(t, err)
	assert.True(t, time.Date(2023, 8, 24, 5, 1, 45, 0, time.UTC).Equal(res.DateCreated), res.DateCreated)
	assert.Equal(t, &SendResult{
		SID: testMessageSID, AccountSID: testAccountSID, Status: "accepted", To: "+14155552671",
		MessagingServiceSID: testServiceSID, NumSegments: 1, DateCreated: res.DateCreated,
	}, res)

	for body, segments := range map[string]int{
		`{"sid":"SM1","num_segments":"3"}`:     3,
		`{"sid":"SM1","num_segments":3}`:       3,
		`{"sid":"SM1","num_segments":null}`:    0,
		`{"sid":"SM1","num_segments":"x"}`:     0,
		`{"sid":"SM1","num_segments":"-1"}`:    0,
		`{"sid":"SM1","num_segments":{"a":1}}`: 0,
		`{"sid":"SM1"}`:                        0,
	} {
		res, err := decodeMessage(201, []byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, segments, res.NumSegments, body)
	}

	for _, body := range []string{``, `null`, `[]`, `{}`, `{"sid":""}`, `{"sid":1}`, `{"sid":"SM1"`, `<html>`} {
		_, err := decodeMessage(201, []byte(body))
		assert.ErrorIs(t, err, ErrInvalidResponse, body)
	}
}
