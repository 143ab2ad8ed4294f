// The request body Ory Kratos's HTTP courier channel "sms" posts to
// twiliosms-server's POST /hooks/kratos: the number, the flow, the code,
// and the reader's language and address where Kratos has them.
//
// Kratos passes ctx: recipient, template_type, template_data (the code
// under login_code, registration_code or verification_code; SMS recovery
// also under verification_code) and, from v26.2, request_headers (the
// triggering request's headers that clients.web_hook.header_allowlist
// lets through). Every field is read only where present, so one body
// serves Kratos v1.3 to v26. Kratos forbids imports: keep it one file.
function(ctx)
  local field(o, k) = if std.isObject(o) && std.objectHas(o, k) then o[k] else null;
  local first(values) = local set = std.prune(values); if std.length(set) > 0 then set[0] else null;
  local data = field(ctx, 'template_data');
  local identity = field(data, 'identity');
  local header(name) =
    local values = field(field(ctx, 'request_headers'), name);
    if std.isArray(values) && std.length(values) > 0 then values[0] else null;
  {
    to: field(ctx, 'recipient'),
    template_type: field(ctx, 'template_type'),
    code: first([field(data, 'login_code'), field(data, 'registration_code'),
                 field(data, 'verification_code'), field(data, 'recovery_code')]),
    // The app's choice first: a transient_payload "locale" sent with the
    // flow, else a "locale" trait (registration passes the traits alone).
    locale: first([field(field(data, 'transient_payload'), 'locale'),
                   field(field(identity, 'traits'), 'locale'), field(identity, 'locale')]),
    accept_language: header('Accept-Language'),
    // The client's address, for the per-address limit, only behind a proxy
    // in front of Kratos that sets True-Client-Ip (Cloudflare, Akamai):
    // without one a client writes it, so it is off. Behind such a proxy,
    // remove the two slashes:
    // ip: header('True-Client-Ip'),
  }
