package redisstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/passcode"
)

func TestOlderRedisIsRefused(t *testing.T) {
	err := checkVersion("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n")
	require.Error(t, err)
	assert.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	assert.Contains(t, err.Error(), "redisstore: the server is Redis 6.2.14, and the store needs Redis 7.0 or later")
	for _, v := range []string{"7.0.15", "7.2.4", "8.0.0"} {
		assert.NoError(t, checkVersion("# Server\r\nredis_version:"+v+"\r\n"), v)
	}
	assert.NoError(t, checkVersion("# Server\r\n"), "a server that does not say is tried")
}
