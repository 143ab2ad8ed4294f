// Supabase Auth's Send SMS hook, signed with the standardwebhooks package
// as Supabase Auth signs it (internal/hooks/hookshttp), against
// twiliosms-server's /hooks/supabase.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { Webhook } from "standardwebhooks";

import { env, messagesTo } from "./fake.mjs";

// DOC docs/hooks/supabase.md: Supabase
// The headers of one try of a Supabase hook request: a new webhook-id each
// try, the time, and a signature per secret of the hook (v1,whsec_...),
// joined with ", ".
function supabaseHeaders(secrets, body, id = randomUUID(), at = new Date()) {
  const signatures = secrets.map((s) => new Webhook(s.replace(/^v1,/, "")).sign(id, at, body));
  return {
    "Content-Type": "application/json",
    "Accept-Encoding": "identity",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signatures.join(", "),
  };
}
// END DOC

const hook = `${env.url}/hooks/supabase`;

/** Posts body to the hook with headers and returns the status and JSON. */
async function post(headers, body) {
  const res = await fetch(hook, { method: "POST", headers, body });
  return { status: res.status, json: await res.json() };
}

/** SendSMSInput as Supabase Auth marshals it, for a user signing in by phone. */
function sendSMSBody(phone, otp, userMetadata = {}) {
  const id = randomUUID();
  return JSON.stringify({
    metadata: { uuid: randomUUID(), time: new Date().toISOString(), name: "send-sms", ip_address: "203.0.113.7" },
    user: {
      id, aud: "authenticated", role: "authenticated", email: "", phone,
      phone_confirmed_at: "2026-08-01T10:00:00Z", confirmed_at: "2026-08-01T10:00:00Z",
      app_metadata: { provider: "phone", providers: ["phone"] }, user_metadata: userMetadata,
      // Supabase copies the sign-up's metadata into the identity.
      identities: [{ identity_id: randomUUID(), id, user_id: id, provider: "phone",
        identity_data: { ...userMetadata, sub: id, phone, phone_verified: true, email_verified: false },
        last_sign_in_at: "2026-08-01T10:00:00Z", created_at: "2026-08-01T10:00:00Z", updated_at: "2026-08-01T10:00:00Z" }],
      created_at: "2026-08-01T10:00:00Z", updated_at: "2026-08-20T10:00:00Z", is_anonymous: false,
    },
    sms: { otp, phone },
  });
}

test("a signed request sends its code; a retry with a new webhook-id sends nothing more", async () => {
  const body = sendSMSBody("4915112345601", "246810", { locale: "de" });
  const first = await post(supabaseHeaders([env.supabaseSecret], body), body);
  assert.deepEqual(first, { status: 200, json: {} });
  const retry = await post(supabaseHeaders([env.supabaseSecret], body), body);
  assert.deepEqual(retry, { status: 200, json: {} });
  const msgs = await messagesTo("+4915112345601");
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].body, "Ihr Anmeldecode lautet 246810");
});

test("Supabase's list of two secrets, a new one first, during a rotation", async () => {
  const body = sendSMSBody("4915112345602", "135790");
  const other = "v1,whsec_" + Buffer.from("a newer secret, not yet on the server").toString("base64");
  assert.deepEqual(await post(supabaseHeaders([other, env.supabaseSecret], body), body), { status: 200, json: {} });
  assert.equal((await messagesTo("+4915112345602")).length, 1);
});

test("a body changed after signing, and an old timestamp, are refused and send nothing", async () => {
  const body = sendSMSBody("4915112345603", "975310");
  const tampered = body.replace("975310", "975311");
  const changed = await post(supabaseHeaders([env.supabaseSecret], body), tampered);
  assert.equal(changed.status, 401);
  assert.equal(changed.json.error.http_code, 401);

  const sixMinutesAgo = new Date(Date.now() - 6 * 60 * 1000);
  const old = await post(supabaseHeaders([env.supabaseSecret], body, randomUUID(), sixMinutesAgo), body);
  assert.equal(old.status, 401);
  assert.match(old.json.error.message, /webhook-timestamp/);
  assert.deepEqual(await messagesTo("+4915112345603"), []);
});

test("a user with 40 KB of user_metadata, in the body twice, gets the SMS", async () => {
  const metadata = { locale: "de", notes: "x".repeat(40_000) };
  const body = sendSMSBody("4915112345604", "864200", metadata);
  assert.ok(Buffer.byteLength(body) > 80_000, `${Buffer.byteLength(body)} bytes`);
  assert.deepEqual(await post(supabaseHeaders([env.supabaseSecret], body), body), { status: 200, json: {} });
  const msgs = await messagesTo("+4915112345604");
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].body, "Ihr Anmeldecode lautet 864200");
});
