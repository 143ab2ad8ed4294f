package twiliosms

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectorTable returns the rows of the table of docs/connector.md whose
// header starts with header, each as its cells.
func connectorTable(t *testing.T, header string) [][]string {
	t.Helper()
	return doccheck.Table(t, "docs/connector.md", header)
}

var (
	codeRE       = regexp.MustCompile(`\b[23]\d{4}\b`)
	backticked   = regexp.MustCompile("`([^`]+)`")
	sentinelName = map[string]error{}
)

func init() {
	names := map[error]string{
		ErrInvalidConfig: "ErrInvalidConfig", ErrTemplateNotFound: "ErrTemplateNotFound", ErrInvalidPhoneNumber: "ErrInvalidPhoneNumber",
		ErrCountryNotAllowed: "ErrCountryNotAllowed", ErrUnreachableRecipient: "ErrUnreachableRecipient", ErrRegionNotPermitted: "ErrRegionNotPermitted",
		ErrRecipientOptedOut: "ErrRecipientOptedOut", ErrInvalidMessage: "ErrInvalidMessage", ErrAuthentication: "ErrAuthentication",
		ErrSenderMisconfigured: "ErrSenderMisconfigured", ErrUnregisteredSender: "ErrUnregisteredSender", ErrRateLimited: "ErrRateLimited",
		ErrCarrierFiltered: "ErrCarrierFiltered", ErrPumpingBlocked: "ErrPumpingBlocked", ErrUnavailable: "ErrUnavailable",
		ErrInvalidResponse: "ErrInvalidResponse", ErrNotDelivered: "ErrNotDelivered", ErrInvalidSignature: "ErrInvalidSignature",
	}
	for err, name := range names {
		sentinelName[name] = err
	}
}

func codesIn(s string) []int {
	var codes []int
	for _, m := range codeRE.FindAllString(s, -1) {
		n, _ := strconv.Atoi(m)
		codes = append(codes, n)
	}
	slices.Sort(codes)
	return codes
}

func rowFor(err error) errorKind {
	for _, row := range errorTable {
		if row.err == err {
			return row
		}
	}
	return errorKind{}
}

// TestConnectorDocErrorTablesMatchTheCodeTable: what docs/connector.md
// says each sentinel and each Twilio code means is what errorTable makes
// the code do.
//
// The page's error table is in errorTable's order, since it says that an
// error matching two rows is logged and coded by the higher one.
func TestConnectorDocErrorTablesMatchTheCodeTable(t *testing.T) {
	seen := map[error]bool{}
	previous := -1
	for _, cells := range connectorTable(t, "| sentinel |") {
		require.Len(t, cells, 5)
		err, ok := sentinelName[strings.Trim(cells[0], "`")]
		require.True(t, ok, "docs/connector.md names an unknown sentinel %s", cells[0])
		seen[err] = true
		at := slices.IndexFunc(errorTable, func(row errorKind) bool { return row.err == err })
		assert.Greater(t, at, previous, "%s is out of errorTable's order of precedence", cells[0])
		previous = at
		row := rowFor(err)
		var want []int
		for _, c := range row.codes {
			if c.code < 30000 {
				want = append(want, c.code)
			}
		}
		slices.Sort(want)
		assert.Equal(t, want, codesIn(cells[1]), "codes of %s", cells[0])
		status := ""
		switch {
		case row.statusFrom == 500 && row.statusTo == 599:
			status = "any 5xx"
		case row.statusFrom != 0:
			status = "HTTP " + strconv.Itoa(row.statusFrom)
		}
		if status != "" {
			assert.Contains(t, cells[1], status, cells[0])
		} else {
			assert.NotContains(t, cells[1], "HTTP", cells[0])
		}
		assert.Equal(t, "`"+row.kind+"`", cells[2], "log kind of %s", cells[0])
		assert.Equal(t, "`"+row.logto+"`", cells[3], "Logto code of %s", cells[0])
	}
	for _, row := range errorTable {
		if row.statusFrom != 0 || slices.ContainsFunc(row.codes, func(c twilioCode) bool { return c.code < 30000 }) {
			assert.True(t, seen[row.err], "the error table of docs/connector.md lacks %v", row.err)
		}
	}

	documented := map[int]bool{}
	for _, cells := range connectorTable(t, "| delivery error code |") {
		require.Len(t, cells, 3)
		codes := codesIn(cells[0])
		var named []error
		for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
			named = append(named, sentinelName[m[1]])
		}
		require.NotEmpty(t, named, cells[1])
		if len(codes) == 0 { // "any failed or undelivered"
			assert.Equal(t, []error{ErrNotDelivered}, named)
			continue
		}
		for _, code := range codes {
			documented[code] = true
			d := &DeliveryError{Status: "undelivered", Code: code}
			for _, err := range named {
				assert.ErrorIs(t, d, err, "delivery code %d", code)
			}
			if !strings.Contains(cells[1], "only") {
				assert.ElementsMatch(t, codeSentinels[code], named, "sentinels of %d", code)
			}
			assert.Equal(t, "`"+kindOf(d)+"`", cells[2], "log kind of %d", code)
		}
	}
	for code := range codeSentinels {
		if code >= 30000 {
			assert.True(t, documented[code], "the delivery table of docs/connector.md lacks %d", code)
		}
	}
}

// TestErrorTableDrivesMatching checks errorTable's consequences directly.
func TestErrorTableDrivesMatching(t *testing.T) {
	// The higher row wins: the example of the order docs/connector.md gives.
	both := &APIError{Status: 401, Code: 21602}
	assert.ErrorIs(t, both, ErrAuthentication)
	assert.ErrorIs(t, both, ErrInvalidMessage)
	assert.Equal(t, CodeGeneral, ConnectorErrorCode(both))
	assert.Equal(t, "authentication", kindOf(both))

	for _, row := range errorTable {
		for _, c := range row.codes {
			assert.ErrorIs(t, &APIError{Status: 400, Code: c.code}, row.err, "%d", c.code)
			assert.ErrorIs(t, &DeliveryError{Code: c.code}, row.err, "%d", c.code)
			assert.NotEmpty(t, c.name)
		}
		if row.statusFrom != 0 {
			assert.ErrorIs(t, &APIError{Status: row.statusTo}, row.err)
			assert.NotErrorIs(t, &APIError{Status: row.statusFrom - 1}, row.err)
		}
		if row.logto != "" {
			assert.Equal(t, row.logto, ConnectorErrorCode(errorf(row.err, "x")), "%v", row.err)
		}
		assert.Equal(t, row.kind, kindOf(errorf(row.err, "x")))
	}
	assert.NotErrorIs(t, &APIError{Status: 400, Code: 21211}, nil)
	assert.ErrorIs(t, &DeliveryError{Code: 30034}, ErrSenderMisconfigured, "30034 is both")
	assert.ErrorIs(t, &DeliveryError{Code: 99999}, ErrNotDelivered)
}
