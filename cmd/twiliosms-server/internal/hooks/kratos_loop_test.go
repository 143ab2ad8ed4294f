package hooks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kratosEventsJsonnet is the body we ship for Kratos's web hooks.
const kratosEventsJsonnet = "../../kratos/events.jsonnet"

// kratosEventRender runs our Jsonnet on ctx as Kratos's request builder
// does (request/builder.go): ctx JSON-encoded without HTML escaping, as
// the top-level code argument "ctx"; a failure whose message holds
// jsonnet's "cancel" runtime error cancels the request.
func kratosEventRender(t *testing.T, ctx map[string]any) (body []byte, canceled bool) {
	t.Helper()
	src, err := os.ReadFile(kratosEventsJsonnet)
	require.NoError(t, err)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(ctx))
	vm := jsonnet.MakeVM()
	vm.Importer(noImports{})
	vm.TLACode("ctx", buf.String())
	out, err := vm.EvaluateAnonymousSnippet(kratosEventsJsonnet, string(src))
	if err != nil {
		require.Contains(t, err.Error(), (&jsonnet.RuntimeError{Msg: "cancel"}).Error(), "the Jsonnet fails only to cancel")
		return nil, true
	}
	return []byte(out), false
}

// kratosAddress is a verifiable address as identity.VerifiableAddress
// marshals it.
func kratosAddress(value, via string, verified bool) map[string]any {
	a := map[string]any{"id": "7f1a3c5e-9b2d-4f6a-8c0e-1a3b5c7d9e0f", "value": value, "verified": verified, "via": via,
		"status": "sent", "created_at": "2026-08-20T09:00:00Z", "updated_at": "2026-08-20T10:00:00Z"}
	if verified {
		a["status"], a["verified_at"] = "completed", "2026-08-20T10:00:00Z"
	}
	return a
}

// kratosIdentity is an identity as Kratos's web hooks pass it: its traits
// and verifiable addresses, among its other fields.
func kratosIdentity(addresses ...map[string]any) map[string]any {
	traits := map[string]any{}
	for _, a := range addresses {
		traits[map[string]string{"sms": "phone", "email": "email"}[a["via"].(string)]] = a["value"]
	}
	return map[string]any{"id": "0a2b4c6d-8e0f-4a1b-9c3d-5e7f9a1b3c5d", "schema_id": "default",
		"schema_url": "https://auth.example.com/schemas/ZGVmYXVsdA", "state": "active", "state_changed_at": "2026-08-20T09:00:00Z",
		"traits": traits, "verifiable_addresses": addresses, "recovery_addresses": []any{}, "metadata_public": nil,
		"created_at": "2026-08-20T09:00:00Z", "updated_at": "2026-08-20T10:00:00Z", "organization_id": nil}
}

// kratosHookCtx is selfservice/hook/web_hook.go's templateContext for a
// flow of kind at path, completed by active: the flow, the request's
// allowed headers, method, URL and cookies, the identity, and after a
// login or recovery the session, whose methods are newest last.
func kratosHookCtx(kind, active string, identity map[string]any, methods ...string) map[string]any {
	flow := map[string]any{"id": "3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c1d", "type": "browser", "expires_at": "2026-08-20T11:00:00Z",
		"issued_at": "2026-08-20T10:00:00Z", "request_url": "https://auth.example.com/self-service/" + kind + "/browser",
		"ui": map[string]any{"action": "https://auth.example.com/self-service/" + kind + "?flow=3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c1d",
			"method": "POST", "nodes": []any{map[string]any{"type": "input", "group": "default",
				"attributes": map[string]any{"name": "identifier", "type": "hidden", "value": "+4915112345678"}}}},
		"state": "passed_challenge"}
	if active != "" {
		flow["active"] = active
	}
	ctx := map[string]any{"flow": flow, "request_method": "POST",
		"request_url":     "https://auth.example.com/self-service/" + kind + "?flow=3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c1d",
		"request_headers": map[string][]string{"Accept": {"application/json"}, "User-Agent": {"Mozilla/5.0"}},
		"request_cookies": map[string]string{"ory_kratos_session": "MTc4NzIyMDAwMHxzZWNyZXQ", "csrf_token_806060": "c2VjcmV0"},
		"identity":        identity}
	if len(methods) > 0 {
		var amr []any
		for _, m := range methods {
			amr = append(amr, map[string]any{"method": m, "aal": "aal1", "completed_at": "2026-08-20T10:00:00Z"})
		}
		ctx["session"] = map[string]any{"id": "5e7a9c1b-3d5f-4b8a-9c2d-4f6a8b0c2e3d", "active": true,
			"expires_at": "2026-08-21T10:00:00Z", "authenticated_at": "2026-08-20T10:00:00Z",
			"authenticator_assurance_level": "aal1", "authentication_methods": amr, "issued_at": "2026-08-20T10:00:00Z",
			"identity": identity, "devices": []any{}}
	}
	return ctx
}

func TestKratosEventsJsonnetSendsCodeSignInsOfVerifiedNumbers(t *testing.T) {
	phoneOK := kratosAddress("+4915112345678", "sms", true)
	phoneNew := kratosAddress("+4915112345679", "sms", false)
	mail := kratosAddress("alice@example.com", "email", true)
	cases := []struct {
		name   string
		ctx    map[string]any
		flow   string
		phones []string // nil: canceled
	}{
		{"a login by SMS code", kratosHookCtx("login", "code", kratosIdentity(phoneOK), "code"), "login", []string{"+4915112345678"}},
		{"a registration by SMS code (no session)", kratosHookCtx("registration", "code", kratosIdentity(phoneOK)), "registration", []string{"+4915112345678"}},
		{"a verification by SMS code", kratosHookCtx("verification", "code", kratosIdentity(mail, phoneOK)), "verification", []string{"+4915112345678"}},
		{"a recovery by SMS code", kratosHookCtx("recovery", "code", kratosIdentity(phoneOK), "code_recovery"), "recovery", []string{"+4915112345678"}},
		{"a login whose flow names no method (the session's newest)", kratosHookCtx("login", "", kratosIdentity(phoneOK), "password", "code"), "login", []string{"+4915112345678"}},
		{"only the verified of two numbers", kratosHookCtx("login", "code", kratosIdentity(phoneNew, phoneOK), "code"), "login", []string{"+4915112345678"}},
		{"a login by password", kratosHookCtx("login", "password", kratosIdentity(phoneOK), "password"), "", nil},
		{"a login by passkey", kratosHookCtx("login", "passkey", kratosIdentity(phoneOK), "passkey"), "", nil},
		{"a registration by a social sign-in", kratosHookCtx("registration", "oidc", kratosIdentity(phoneOK)), "", nil},
		{"a link in an e-mail", kratosHookCtx("verification", "link", kratosIdentity(mail, phoneOK)), "", nil},
		{"a code to a number not verified", kratosHookCtx("login", "code", kratosIdentity(mail, phoneNew), "code"), "", nil},
		{"an identity with e-mail only", kratosHookCtx("login", "code", kratosIdentity(mail), "code"), "", nil},
	}
	e := newEnv(t, loopSecrets)
	confirmed := 0
	for _, c := range cases {
		body, canceled := kratosEventRender(t, c.ctx)
		if c.phones == nil {
			assert.True(t, canceled, c.name+": Kratos makes no request")
			continue
		}
		require.False(t, canceled, c.name)
		var got kratosEventBody
		require.NoError(t, json.Unmarshal(body, &got), c.name)
		assert.Equal(t, kratosEventBody{Flow: c.flow, Method: "code", Phones: c.phones}, got, c.name)
		for _, secret := range []string{"MTc4NzIyMDAwMHxzZWNyZXQ", "c2VjcmV0", "Mozilla"} {
			assert.NotContains(t, string(body), secret, "the request's cookies and headers stay in Kratos")
		}

		r := e.post("/hooks/kratos/events", http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + kratosEventsKey}}, body)
		require.Equal(t, http.StatusNoContent, r.status, c.name+": "+r.body)
		confirmed++
		assert.Len(t, e.relay.confirmations(), confirmed, c.name)
		assert.Equal(t, "+4915112345678", e.relay.confirmations()[confirmed-1], c.name)
	}
}

func TestKratosEventsAPIKey(t *testing.T) {
	body, _ := kratosEventRender(t, kratosHookCtx("login", "code", kratosIdentity(kratosAddress("+4915112345678", "sms", true)), "code"))
	e := newEnv(t, loopSecrets)
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"the key", http.Header{"Authorization": {"Bearer " + kratosEventsKey}}, 204},
		{"the older key, during a rotation", http.Header{"Authorization": {"Bearer old00000000000000000000000000000000"}}, 204},
		{"none", http.Header{}, 401},
		{"the courier's key, which is another", http.Header{"Authorization": {"Bearer " + kratosKey}}, 401},
		{"the key without Bearer", http.Header{"Authorization": {kratosEventsKey}}, 401},
		{"another key", http.Header{"Authorization": {"Bearer " + kratosEventsKey[1:] + "x"}}, 401},
	} {
		r := e.post("/hooks/kratos/events", c.header, body)
		assert.Equal(t, c.want, r.status, c.name)
	}
	assert.Len(t, e.relay.confirmations(), 2, "only the two keys confirmed")
}

func TestKratosEventsBadInput(t *testing.T) {
	e := newEnv(t, loopSecrets)
	h := http.Header{"Authorization": {"Bearer " + kratosEventsKey}}
	for _, c := range []struct {
		name   string
		body   string
		status int
		says   string
	}{
		{"not JSON", "method=code", 400, "the body is not a JSON object"},
		{"Kratos's default web hook body, not ours", `{"identity_id":"0a2b4c6d-8e0f-4a1b-9c3d-5e7f9a1b3c5d"}`, 400, "method is missing: it should hold the flow's method: send the body of cmd/twiliosms-server/kratos/events.jsonnet"},
		{"phones not a list", `{"method":"code","phones":"+4915112345678"}`, 400, "phones is a JSON string, not the slice expected"},
		{"eleven numbers", `{"method":"code","phones":["+1","+2","+3","+4","+5","+6","+7","+8","+9","+10","+11"]}`, 400, "phones holds more than 10 numbers"},
		{"a password sign-in from another Jsonnet", `{"method":"password","phones":["+4915112345678"]}`, 204, ""},
		{"no number", `{"method":"code","phones":[]}`, 204, ""},
	} {
		r := e.post("/hooks/kratos/events", h, []byte(c.body))
		assert.Equal(t, c.status, r.status, c.name)
		if c.says != "" {
			assert.Contains(t, r.body, "twiliosms-server: kratos_events: "+c.says, c.name)
		}
	}
	confirmedNothing(t, e, "no input here confirms")
	assert.Equal(t, []string{"kratos_events bad_request", "kratos_events bad_request", "kratos_events bad_request", "kratos_events bad_request",
		"kratos_events ignored", "kratos_events ignored"}, e.outcomes)
	assert.True(t, strings.Contains(e.logs.String(), `"ignored":"not by a one-time code"`))
}
