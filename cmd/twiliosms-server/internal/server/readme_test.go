package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/doccheck"
)

// TestDocListsDevModesTemplates: the table of dev mode's templates in
// docs/server.md is devTemplates, row for row.
func TestDocListsDevModesTemplates(t *testing.T) {
	rows := doccheck.Table(t, "../../../../docs/server.md", "| usage type | `Locale` | text |")
	require.Len(t, rows, len(devTemplates))
	for _, row := range rows {
		require.Len(t, row, 3)
		usage := twiliosms.UsageType(strings.Trim(row[0], "`"))
		locale := ""
		if strings.HasPrefix(row[1], "`") {
			locale = strings.Trim(row[1], "`")
		} else {
			assert.True(t, strings.HasPrefix(row[1], "English"), "a row without a locale is the English one: %q", row[1])
		}
		found := false
		for _, tmpl := range devTemplates {
			if tmpl.UsageType == usage && tmpl.Locale == locale {
				found = true
				assert.Equal(t, "`"+tmpl.Content+"`", row[2], "%s %s", usage, locale)
			}
		}
		assert.True(t, found, "dev mode has a %s template for %q", usage, locale)
	}
	cfg, err := Load(Settings{Getenv: env(nil), ReadFile: noFile})
	require.NoError(t, err)
	assert.Equal(t, "en", cfg.Connector.DefaultLocale, "the templates without a locale are English")
}
