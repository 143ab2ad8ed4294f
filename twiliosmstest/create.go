package twiliosmstest

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/connectorkit/twiliosms"
)

// create answers Create Message.
func (s *Server) create(w http.ResponseWriter, r *http.Request, account, _ string) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return // the client went away
	}
	form, err := url.ParseQuery(string(data))
	if err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeError(w, failure{400, 20422, "Invalid Parameter: the body must be form-encoded"})
		return
	}
	if f := s.refusal(newMessage(r.URL.Path, form)); f != nil {
		writeError(w, *f)
		return
	}
	msg := s.record(account, form)
	writeJSON(w, http.StatusCreated, resource(msg))
	if callbackURL := form.Get("StatusCallback"); callbackURL != "" {
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // the 201 goes out before the first callback
		}
		s.startCallbacks(callbackURL, s.signingToken(r), msg)
	}
}

// message is a Create Message request: its path and parameters.
type message struct {
	path, to, from, service, body string
	form                          url.Values
}

func newMessage(path string, form url.Values) message {
	return message{path, form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body"), form}
}

// rules are Twilio's parameter rules, in the order Twilio reports them.
// Each returns the answer for a request that breaks it, or nil.
var rules = []func(m message) *failure{checkTo, checkSender, checkBody, checkOptions}

// refusal is the answer to a Create Message request the fake refuses: the
// first of Twilio's parameter rules it breaks, else the error FailTo set
// for its recipient, else the error of a Twilio test number; or nil.
func (s *Server) refusal(m message) *failure {
	if f := validate(m); f != nil {
		return f
	}
	if f := s.createFailure(m); f != nil {
		return f
	}
	return checkTestNumbers(m)
}

// validate applies the rules and returns the first failure, or nil.
func validate(m message) *failure {
	for _, rule := range rules {
		if f := rule(m); f != nil {
			return f
		}
	}
	return nil
}

func checkTo(m message) *failure {
	if m.to == "" {
		return refuse(21604, m)
	}
	switch err := readNumber(m.to); {
	case errors.Is(err, twiliosms.ErrUnreachableRecipient):
		return refuse(21614, m)
	case err != nil:
		return refuse(21211, m)
	}
	return nil
}

func checkSender(m message) *failure {
	switch {
	case m.from == "" && m.service == "":
		return refuse(21603, m)
	case m.service != "" && !serviceSID.MatchString(m.service):
		return refuse(21705, m)
	case m.from != "" && !validSender(m.from):
		return refuse(21212, m)
	}
	return nil
}

func checkBody(m message) *failure {
	switch {
	case m.body == "":
		return refuse(21602, m)
	case utf8.RuneCountInString(m.body) > twiliosms.MaxBodyLength:
		return refuse(21617, m)
	}
	return nil
}

func checkOptions(m message) *failure {
	if rc := m.form["RiskCheck"]; len(rc) > 0 && rc[0] != "enable" && rc[0] != "disable" {
		return &failure{400, 20422, "Invalid Parameter: RiskCheck must be enable or disable"}
	}
	if vp := m.form["ValidityPeriod"]; len(vp) > 0 {
		if n, err := strconv.Atoi(vp[0]); err != nil || n < 1 || n > 36000 {
			return refuse(21624, m)
		}
	}
	if cb := m.form["StatusCallback"]; len(cb) > 0 {
		if u, err := url.Parse(cb[0]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return refuse(21609, m)
		}
	}
	return nil
}

// checkTestNumbers answers Twilio's test numbers with their errors.
func checkTestNumbers(m message) *failure {
	if code, ok := magicTo[m.to]; ok {
		return refuse(code, m)
	}
	if code, ok := magicFrom[m.from]; ok && m.service == "" {
		return refuse(code, m)
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
		AuthToken:               twiliosms.NewSecret("unused"),
		FromMessagingServiceSID: "MG00000000000000000000000000000000",
		Templates: []twiliosms.Template{template(twiliosms.UsageTypeRegister), template(twiliosms.UsageTypeSignIn),
			template(twiliosms.UsageTypeForgotPassword), template(twiliosms.UsageTypeGeneric)},
	})
	if err != nil {
		panic("twiliosmstest: " + err.Error())
	}
	return conn
})
