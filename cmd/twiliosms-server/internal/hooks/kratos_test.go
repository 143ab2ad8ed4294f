package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
)

// kratosJsonnet is the body we ship for Kratos's courier.
const kratosJsonnet = "../../kratos/sms.jsonnet"

// noImports refuses imports, as Kratos's Jsonnet VM does.
type noImports struct{}

func (noImports) Import(_, path string) (jsonnet.Contents, string, error) {
	return jsonnet.Contents{}, "", errors.New("imports are not allowed: " + path)
}

// kratosBody runs our Jsonnet on ctx as Kratos's request builder does:
// ctx JSON-encoded without HTML escaping, passed as the top-level code
// argument "ctx", the output sent as it is.
func kratosRender(t *testing.T, ctx map[string]any) []byte {
	t.Helper()
	return kratosRenderWith(t, ctx, func(src string) string { return src })
}

// kratosRenderWith renders the shipped Jsonnet after edit, as an operator
// would change it.
func kratosRenderWith(t *testing.T, ctx map[string]any, edit func(string) string) []byte {
	t.Helper()
	data, err := os.ReadFile(kratosJsonnet)
	require.NoError(t, err)
	src := edit(string(data))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(ctx))
	vm := jsonnet.MakeVM()
	vm.Importer(noImports{})
	vm.TLACode("ctx", buf.String())
	out, err := vm.EvaluateAnonymousSnippet(kratosJsonnet, src)
	require.NoError(t, err)
	return []byte(out)
}

// kratosCtx is courier/http_channel.go's httpDataModel for an SMS: the
// recipient, Kratos's own text, the template's type and model, and (v26.2
// and later) the triggering request's allowed headers; headers nil leaves
// request_headers out, as Kratos before v26.2 does.
func kratosCtx(templateType string, data map[string]any, headers map[string][]string) map[string]any {
	ctx := map[string]any{"recipient": "+4915112345678", "subject": "", "body": "Your code is: " + "123456",
		"template_type": templateType, "template_data": data, "message_type": "sms"}
	if headers != nil {
		ctx["request_headers"] = headers
	}
	return ctx
}

// browser is the triggering request's headers through Kratos's default
// header_allowlist, canonicalized.
var browser = map[string][]string{"Accept": {"application/json"}, "Accept-Language": {"de-DE,de;q=0.9,en;q=0.8"},
	"User-Agent": {"Mozilla/5.0"}, "True-Client-Ip": {"203.0.113.7"}}

func identity(traits map[string]any) map[string]any {
	return map[string]any{"id": "0a2b4c6d-8e0f-4a1b-9c3d-5e7f9a1b3c5d", "schema_id": "default", "state": "active", "traits": traits}
}

func TestKratosJsonnetReadsEveryCodeTemplate(t *testing.T) {
	traits := map[string]any{"phone": "+4915112345678"}
	common := func(more map[string]any) map[string]any {
		m := map[string]any{"to": "+4915112345678", "request_url": "https://auth.example.com/self-service/login?flow=1",
			"request_url_domain": "auth.example.com", "transient_payload": map[string]any{}, "expires_in_minutes": 60}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name    string
		ctx     map[string]any
		want    kratosBody
		usage   twiliosms.UsageType
		locale  string
		relayIP string
	}{
		{"login (v26.2: the browser's headers)", kratosCtx("login_code_valid", common(map[string]any{"login_code": "123456", "identity": identity(traits)}), browser),
			kratosBody{To: "+4915112345678", TemplateType: "login_code_valid", Code: "123456", AcceptLanguage: "de-DE,de;q=0.9,en;q=0.8"},
			twiliosms.UsageTypeSignIn, "de-DE,de;q=0.9,en;q=0.8", ""},
		{"registration (identity is the traits alone)", kratosCtx("registration_code_valid", common(map[string]any{"registration_code": "234567",
			"identity": map[string]any{"phone": "+4915112345678", "locale": "fr"}}), browser),
			kratosBody{To: "+4915112345678", TemplateType: "registration_code_valid", Code: "234567", Locale: "fr", AcceptLanguage: "de-DE,de;q=0.9,en;q=0.8"},
			twiliosms.UsageTypeRegister, "fr", ""},
		{"verification (Kratos passes it no headers)", kratosCtx("verification_code_valid", common(map[string]any{"verification_code": "345678",
			"identity": identity(map[string]any{"phone": "+4915112345678", "locale": "es"})}), map[string][]string{}),
			kratosBody{To: "+4915112345678", TemplateType: "verification_code_valid", Code: "345678", Locale: "es"},
			twiliosms.UsageTypeBindNewIdentifier, "es", ""},
		{"recovery by SMS (v25.4: its code is verification_code)", kratosCtx("recovery_code_valid", common(map[string]any{"verification_code": "456789",
			"identity": identity(traits), "transient_payload": map[string]any{"locale": "ja"}}), browser),
			kratosBody{To: "+4915112345678", TemplateType: "recovery_code_valid", Code: "456789", Locale: "ja", AcceptLanguage: "de-DE,de;q=0.9,en;q=0.8"},
			twiliosms.UsageTypeForgotPassword, "ja", ""},
		{"login on Kratos v1.3: no headers, no domain, no expiry", kratosCtx("login_code_valid", map[string]any{"to": "+4915112345678", "login_code": "567890",
			"identity": identity(traits), "request_url": "https://auth.example.com/", "transient_payload": nil}, nil),
			kratosBody{To: "+4915112345678", TemplateType: "login_code_valid", Code: "567890"},
			twiliosms.UsageTypeSignIn, "", ""},
	}
	e := newEnv(t, allSecrets)
	for _, c := range cases {
		body := kratosRender(t, c.ctx)
		var got kratosBody
		require.NoError(t, json.Unmarshal(body, &got), c.name)
		assert.Equal(t, c.want, got, c.name)

		r := e.post("/hooks/kratos", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + kratosKey}}, body)
		require.Equal(t, http.StatusNoContent, r.status, c.name+": "+r.body)
		relayed := e.last()
		assert.Equal(t, RelayRequest{To: "+4915112345678", UsageType: c.usage, Code: c.want.Code, Locale: c.locale, IP: c.relayIP, Source: "kratos"}, relayed, c.name)
	}
}

func TestKratosJsonnetOutputIsWhatKratosSends(t *testing.T) {
	// go-jsonnet manifests objects sorted, indented by three spaces; nulls
	// stay, and the endpoint reads them as absent.
	body := kratosRender(t, kratosCtx("verification_code_valid", map[string]any{"to": "+4915112345678", "verification_code": "345678"}, nil))
	assert.Equal(t, "{\n   \"accept_language\": null,\n   \"code\": \"345678\",\n   \"locale\": null,\n"+
		"   \"template_type\": \"verification_code_valid\",\n   \"to\": \"+4915112345678\"\n}\n", string(body))
}

// TestKratosAddressIsOptIn: the shipped Jsonnet passes no address, since
// without a proxy that sets True-Client-Ip a client writes it; with the
// line uncommented, as docs/hooks/kratos.md says behind such a proxy, the endpoint
// counts the address.
func TestKratosAddressIsOptIn(t *testing.T) {
	ctx := kratosCtx("login_code_valid", map[string]any{"to": "+4915112345678", "login_code": "123456"}, browser)
	assert.NotContains(t, string(kratosRender(t, ctx)), "203.0.113.7")
	optIn := func(src string) string {
		return strings.Replace(src, "// ip: header('True-Client-Ip'),", "ip: header('True-Client-Ip'),", 1)
	}
	body := kratosRenderWith(t, ctx, optIn)
	e := newEnv(t, allSecrets)
	r := e.post("/hooks/kratos", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + kratosKey}}, body)
	require.Equal(t, http.StatusNoContent, r.status, r.body)
	assert.Equal(t, "203.0.113.7", e.last().IP)
}

func TestKratosAPIKey(t *testing.T) {
	e := newEnv(t, allSecrets)
	body := kratosRender(t, kratosCtx("login_code_valid", map[string]any{"to": "+4915112345678", "login_code": "123456"}, browser))
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"the key", http.Header{"Authorization": {"Bearer " + kratosKey}}, 204},
		{"the older key, during a rotation", http.Header{"Authorization": {"Bearer old00000000000000000000000000000000"}}, 204},
		{"none", http.Header{}, 401},
		{"the key without Bearer", http.Header{"Authorization": {kratosKey}}, 401},
		{"in another header", http.Header{"X-Api-Key": {kratosKey}}, 401},
		{"another key", http.Header{"Authorization": {"Bearer " + kratosKey[1:] + "x"}}, 401},
	} {
		r := e.post("/hooks/kratos", c.header, body)
		assert.Equal(t, c.want, r.status, c.name)
	}
	assert.Len(t, e.relay.requests(), 2)
}

func TestKratosBadInputSendsNothing(t *testing.T) {
	e := newEnv(t, allSecrets)
	h := http.Header{"Authorization": {"Bearer " + kratosKey}}
	for _, c := range []struct {
		name string
		body []byte
		says string
	}{
		{"not JSON (Kratos's form body)", []byte("to=%2B4915112345678&code=123456"), "the body is not a JSON object"},
		{"the shape of Kratos's default body, not ours", []byte(`{"recipient":"+4915112345678","template_type":"login_code_valid","to":"+4915112345678","recovery_code":null,"body":"Your code is: 123456"}`),
			"code is missing: it should hold the code to send: set request_config.body to cmd/twiliosms-server/kratos/sms.jsonnet"},
		{"a template without a code", kratosRender(t, kratosCtx("stub", map[string]any{"to": "+4915112345678", "body": "hi"}, nil)), "code is missing: it should hold the code to send; Kratos's stub carries none"},
		{"an empty body", nil, "the body is not a JSON object"},
		{"no recipient", []byte(`{"template_type":"login_code_valid","code":"123456"}`), "to is missing"},
		{"no template type", []byte(`{"to":"+4915112345678","code":"123456"}`), "template_type is missing"},
		{"a True-Client-Ip that is not an address", []byte(`{"to":"+4915112345678","template_type":"login_code_valid","code":"123456","ip":"unknown"}`), "ip is not an IPv4 or IPv6 address"},
	} {
		r := e.post("/hooks/kratos", h, c.body)
		assert.Equal(t, http.StatusBadRequest, r.status, c.name)
		assert.Contains(t, r.body, "twiliosms-server: kratos: "+c.says, c.name)
	}
	assert.Empty(t, e.relay.requests())
	// A code template Kratos adds later is sent with the Generic template.
	r := e.post("/hooks/kratos", h, []byte(`{"to":"+4915112345678","template_type":"login_code_valid_v2","code":"123456"}`))
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Equal(t, twiliosms.UsageTypeGeneric, e.last().UsageType)
}

func TestKratosReadsTheStatusAndLogsOurWords(t *testing.T) {
	body := kratosRender(t, kratosCtx("login_code_valid", map[string]any{"to": "+4915112345678", "login_code": "123456"}, browser))
	for _, c := range relayErrors {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, allSecrets)
			e.relay.err = c.err
			r := e.post("/hooks/kratos", http.Header{"Authorization": {"Bearer " + kratosKey}}, body)
			assert.Equal(t, c.status, r.status)
			assert.Empty(t, r.header.Get("Retry-After"), "Kratos up to v25 would sleep that long in its courier")
			assert.Contains(t, r.body, "twiliosms-server: "+c.outcome+": ", "English, for the operator, whatever the reader's language")
			assert.Less(t, len(r.body), 1024, "Kratos v25.4 and later log 1 KiB of it")
		})
	}
}
