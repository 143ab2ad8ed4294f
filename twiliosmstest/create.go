package twiliosmstest

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/connectorkit/twiliosms"
)

// message is the parameters of a Create Message request.
type message struct {
	to, from, service, body string
	form                    url.Values
}

// rules are Twilio's parameter rules, in the order Twilio reports them,
// then its test numbers. Each returns the answer for a request that breaks
// it, or nil.
var rules = []func(m message) *failure{checkTo, checkSender, checkBody, checkOptions, checkTestNumbers}

// validate applies the rules and returns the first failure, or nil.
func validate(form url.Values) *failure {
	m := message{form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body"), form}
	for _, rule := range rules {
		if f := rule(m); f != nil {
			return f
		}
	}
	return nil
}

func checkTo(m message) *failure {
	if m.to == "" {
		return &failure{400, 21604, "A 'To' phone number is required."}
	}
	switch err := readNumber(m.to); {
	case errors.Is(err, twiliosms.ErrUnreachableRecipient):
		return &failure{400, 21614, "'To' number is not a valid mobile number"}
	case err != nil:
		return &failure{400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", m.to)}
	}
	return nil
}

func checkSender(m message) *failure {
	switch {
	case m.from == "" && m.service == "":
		return &failure{400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."}
	case m.service != "" && !serviceSID.MatchString(m.service):
		return &failure{400, 21705, "The Messaging Service is invalid."}
	case m.from != "" && !validSender(m.from):
		return &failure{400, 21212, fmt.Sprintf("The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", m.from)}
	}
	return nil
}

func checkBody(m message) *failure {
	switch {
	case m.body == "":
		return &failure{400, 21602, "Message body is required."}
	case utf8.RuneCountInString(m.body) > twiliosms.MaxBodyLength:
		return &failure{400, 21617, "The concatenated message body exceeds the 1600 character limit."}
	}
	return nil
}

func checkOptions(m message) *failure {
	if rc := m.form["RiskCheck"]; len(rc) > 0 && rc[0] != "enable" && rc[0] != "disable" {
		return &failure{400, 20422, "Invalid Parameter: RiskCheck must be enable or disable"}
	}
	if vp := m.form["ValidityPeriod"]; len(vp) > 0 {
		if n, err := strconv.Atoi(vp[0]); err != nil || n < 1 || n > 36000 {
			return &failure{400, 21624, "Invalid validity period value"}
		}
	}
	if cb := m.form["StatusCallback"]; len(cb) > 0 {
		if u, err := url.Parse(cb[0]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &failure{400, 21609, "Invalid 'StatusCallback'"}
		}
	}
	return nil
}

func checkTestNumbers(m message) *failure {
	if f, ok := magicTo[m.to]; ok {
		return &f
	}
	if f, ok := magicFrom[m.from]; ok && m.service == "" {
		return &f
	}
	return nil
}

func validSender(from string) bool {
	if strings.HasPrefix(from, "+") {
		return readNumber(from) == nil
	}
	return shortCode.MatchString(from) || (alphaSender.MatchString(from) && hasLetter.MatchString(from))
}

// readNumber reads s as twiliosms reads Message.To, through
// Connector.NormalizePhone, so that the fake refuses exactly what the
// library would; s must also be in E.164 form already, as Twilio wants.
func readNumber(s string) error {
	e164, err := numberReader().NormalizePhone(s)
	if err == nil && e164 != s {
		return twiliosms.ErrInvalidPhoneNumber
	}
	return err
}

// numberReader is a connector used only to read numbers: no defaultRegion,
// no allowedCountries.
var numberReader = sync.OnceValue(func() *twiliosms.Connector {
	template := func(u twiliosms.UsageType) twiliosms.Template {
		return twiliosms.Template{UsageType: u, Content: "{{code}}"}
	}
	conn, err := twiliosms.New(twiliosms.Config{
		AccountSID:              "AC00000000000000000000000000000000",
		AuthToken:               "unused",
		FromMessagingServiceSID: "MG00000000000000000000000000000000",
		Templates: []twiliosms.Template{template(twiliosms.UsageTypeRegister), template(twiliosms.UsageTypeSignIn),
			template(twiliosms.UsageTypeForgotPassword), template(twiliosms.UsageTypeGeneric)},
	})
	if err != nil {
		panic("twiliosmstest: " + err.Error())
	}
	return conn
})
