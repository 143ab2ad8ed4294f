// The request body Ory Kratos's after-login, after-registration,
// after-verification and after-recovery web hooks post to
// twiliosms-server's POST /hooks/kratos/events: that a flow was completed
// with a one-time code, and the identity's verified SMS addresses, which
// the fraud guard then credits.
//
// Kratos passes ctx: flow (its active method: "code" for one-time codes),
// identity (its verifiable_addresses, each with via, verified and value),
// session after a login (authentication_methods, newest last),
// request_url, and the request's headers and cookies, which are not sent
// on. A flow completed another way (a password, a passkey, a social
// sign-in), or an identity without a verified SMS address, makes no
// request at all: Kratos cancels a web hook whose Jsonnet fails with
// "cancel". Kratos forbids imports: keep it one file.
function(ctx)
  local field(o, k) = if std.isObject(o) && std.objectHas(o, k) then o[k] else null;
  local methods = field(field(ctx, 'session'), 'authentication_methods');
  local newest =
    if std.isArray(methods) && std.length(methods) > 0 then field(methods[std.length(methods) - 1], 'method') else null;
  local active = field(field(ctx, 'flow'), 'active');
  local method = if active != null && active != '' then active else newest;
  local addresses = field(field(ctx, 'identity'), 'verifiable_addresses');
  local phones =
    if std.isArray(addresses) then
      [a.value for a in addresses
       if field(a, 'via') == 'sms' && field(a, 'verified') == true && std.isString(field(a, 'value'))]
    else [];
  local url = field(ctx, 'request_url');
  local kinds = [k for k in ['login', 'registration', 'verification', 'recovery', 'settings']
                 if std.isString(url) && std.length(std.findSubstr('/self-service/' + k, url)) > 0];
  if method != 'code' || std.length(phones) == 0 then error 'cancel'
  else {
    flow: if std.length(kinds) > 0 then kinds[0] else null,
    method: method,
    phones: phones,
  }
