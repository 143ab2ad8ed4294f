package passcode

import (
	"errors"
	"fmt"

	"github.com/connectorkit/twiliosms"
)

// recipient is a number read once for one request: for its keys, its
// limits, the guard and the send.
type recipient struct {
	e164 string
	// phone is the Sender's reading, sent as Message.Phone so that it is
	// not read again; zero for a Sender without ReadPhone.
	phone twiliosms.Phone
	// region is found on demand (see region), then kept.
	region string
	// namer names its records; names are their keys, found on demand.
	namer *namer
	names *recipientKeys
}

// keys returns the keys of the number's records.
func (r *recipient) keys() *recipientKeys {
	if r.names == nil {
		k := r.namer.recipientKeys(r.e164)
		r.names = &k
	}
	return r.names
}

// read reads number, the To of the caller's request ("Request"), once:
// with the Sender's ReadPhone when it has one, else with NormalizePhone.
// A phone error names the request's field, not the Sender's Message.To.
// A phone the caller read already is taken as it is; a To beside it must
// be its E.164 form.
func (s *Service) read(request, number string, phone twiliosms.Phone) (*recipient, error) {
	field := request + ".To"
	r := recipient{namer: s.keys.names}
	var err error
	switch {
	case !phone.IsZero() && number != "" && number != phone.E164():
		return nil, fmt.Errorf("passcode: %s (%s) is not %s.Phone's number (%s): set one, or To to Phone.E164(), so that there is no doubt whom the code goes to: %w",
			field, twiliosms.MaskPhone(number), request, twiliosms.MaskPhone(phone.E164()), twiliosms.ErrInvalidMessage)
	case !phone.IsZero():
		r.phone, r.e164 = phone, phone.E164()
	case s.reader != nil:
		r.phone, err = s.reader.ReadPhone(number)
		r.e164 = r.phone.E164()
	default:
		r.e164, err = s.sender.NormalizePhone(number)
	}
	var phoneErr *twiliosms.PhoneError
	if errors.As(err, &phoneErr) {
		return nil, phoneErr.WithField(field)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// regionOf returns the number's ISO 3166-1 region, looked up once per
// request and cached per range across requests (see regionCache).
func (r *recipient) regionOf() string {
	if r.region == "" {
		r.region = numberRegions.region(r.e164, r.phone)
	}
	return r.region
}

// message is msg addressed to r: To is the E.164 form, and Phone the
// Sender's reading when it made one, so that SendMessage does not read the
// number again while a Sender that wraps a Connector still finds the
// number in To.
func (r *recipient) message(msg twiliosms.Message) twiliosms.Message {
	msg.To, msg.Phone = r.e164, r.phone
	return msg
}

// subjects are what the limits of a request from cl to r count.
func (s *Service) subjects(r *recipient, cl *client) subjects {
	k := r.keys()
	sub := subjects{recipient: k.subject, recipientSends: k.sends, recipientFails: k.fails, client: cl}
	if s.needRegion {
		sub.region = r.regionOf()
	}
	return sub
}
