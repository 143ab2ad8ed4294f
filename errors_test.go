package twiliosms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

var allSentinels = []error{
	ErrInvalidConfig, ErrTemplateNotFound, ErrInvalidMessage, ErrInvalidPhoneNumber,
	ErrUnreachableRecipient, ErrRegionNotPermitted, ErrRecipientOptedOut, ErrAuthentication,
	ErrSenderMisconfigured, ErrRateLimited, ErrUnavailable, ErrInvalidResponse,
}

// TestAPIErrorIs checks every mapping docs/connector.md's error table promises, and
// that an error matches no other sentinel.
func TestAPIErrorIs(t *testing.T) {
	tests := []struct {
		status, code int
		want         []error
	}{
		{400, 21211, []error{ErrInvalidPhoneNumber}},
		{400, 21612, []error{ErrUnreachableRecipient}},
		{400, 21614, []error{ErrUnreachableRecipient}},
		{400, 21408, []error{ErrRegionNotPermitted}},
		{400, 21610, []error{ErrRecipientOptedOut}},
		{401, 20003, []error{ErrAuthentication}},
		{403, 20003, []error{ErrAuthentication}},
		{401, 0, []error{ErrAuthentication}},
		{404, 20404, []error{ErrSenderMisconfigured}},
		{400, 21212, []error{ErrSenderMisconfigured}},
		{400, 21603, []error{ErrSenderMisconfigured}},
		{400, 21606, []error{ErrSenderMisconfigured}},
		{400, 21608, []error{ErrSenderMisconfigured}},
		{400, 21703, []error{ErrSenderMisconfigured}},
		{400, 21704, []error{ErrSenderMisconfigured}},
		{400, 21705, []error{ErrSenderMisconfigured}},
		{429, 20429, []error{ErrRateLimited}},
		{400, 21611, []error{ErrRateLimited}},
		{429, 0, []error{ErrRateLimited}},
		{400, 21602, []error{ErrInvalidMessage}},
		{400, 21617, []error{ErrInvalidMessage}},
		{500, 0, []error{ErrUnavailable}},
		{502, 0, []error{ErrUnavailable}},
		{503, 20503, []error{ErrUnavailable}},
		{599, 0, []error{ErrUnavailable}},
		{503, 20429, []error{ErrUnavailable, ErrRateLimited}},
		{400, 21609, nil}, // a real code with no sentinel of its own: still an *APIError
		{400, 0, nil},
		{302, 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.status, tt.code), func(t *testing.T) {
			err := error(&APIError{Status: tt.status, Code: tt.code})
			for _, s := range allSentinels {
				assert.Equal(t, slices.Contains(tt.want, s), errors.Is(err, s), "%v", s)
			}
			var apiErr *APIError
			assert.True(t, errors.As(fmt.Errorf("wrapped: %w", err), &apiErr))
			assert.Equal(t, tt.code, apiErr.Code)
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	err := &APIError{Status: 400, Code: 21211, Message: "The 'To' number 123 is not a valid phone number.", MoreInfo: "https://www.twilio.com/docs/errors/21211"}
	assert.Equal(t, "twiliosms: twilio answered HTTP 400, error 21211: The 'To' number 123 is not a valid phone number. (https://www.twilio.com/docs/errors/21211)", err.Error())
	assert.Equal(t, "twiliosms: twilio answered HTTP 503: Service Unavailable", (&APIError{Status: 503}).Error())
}

func TestAPIErrorMasksQuotedNumbers(t *testing.T) {
	err := &APIError{Status: 400, Code: 21608, Message: "The number +15005550006 is unverified; 14155552671 too. Service MG00000000000000000000000000000001, code 21608."}
	assert.Equal(t, "twiliosms: twilio answered HTTP 400, error 21608: The number +1500***0006 is unverified; 1415***2671 too. Service MG00000000000000000000000000000001, code 21608.", err.Error())
	assert.Contains(t, err.Message, "+15005550006", "Message stays as Twilio wrote it")
}

func TestConnectorErrorCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&ConfigError{}, CodeInvalidConfig},
		{errorf(ErrTemplateNotFound, "x"), CodeTemplateNotFound},
		{&APIError{Status: 429}, CodeRateLimitExceeded},
		{&APIError{Status: 400, Code: 21611}, CodeRateLimitExceeded},
		{errorf(ErrInvalidPhoneNumber, "x"), CodeInvalidRequestParameters},
		{&APIError{Status: 400, Code: 21211}, CodeInvalidRequestParameters},
		{errorf(ErrInvalidMessage, "x"), CodeInvalidRequestParameters},
		{&APIError{Status: 400, Code: 21408}, CodeInvalidRequestParameters},
		{&APIError{Status: 400, Code: 21610}, CodeInvalidRequestParameters},
		{&APIError{Status: 400, Code: 21614}, CodeInvalidRequestParameters},
		{errorf(ErrInvalidResponse, "x"), CodeInvalidResponse},
		{&APIError{Status: 401, Code: 20003}, CodeGeneral},
		{&APIError{Status: 400, Code: 21606}, CodeGeneral},
		{&APIError{Status: 502}, CodeGeneral},
		{context.Canceled, CodeGeneral},
		{errors.New("anything"), CodeGeneral},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ConnectorErrorCode(tt.err), "%v", tt.err)
	}
}

func TestSentinelsLeadWithPackageName(t *testing.T) {
	for _, s := range allSentinels {
		assert.Regexp(t, `^twiliosms: `, s.Error())
	}
}
