// What the fake Twilio behind the server under test accepted, read from
// its Messages API as any Twilio client reads Twilio's.
import assert from "node:assert/strict";

/** The server under test, and the settings the Go test started it with. */
export const env = {
  url: process.env.TWILIOSMS_URL,
  accountSid: process.env.TWILIOSMS_ACCOUNT_SID,
  authToken: process.env.TWILIOSMS_AUTH_TOKEN,
  serviceSid: process.env.TWILIOSMS_SERVICE_SID,
  logtoAuthorization: process.env.TWILIOSMS_LOGTO_AUTHORIZATION,
  supabaseSecret: process.env.TWILIOSMS_SUPABASE_SECRET,
};
assert.ok(env.url, "TWILIOSMS_URL is unset: run these tests with go test in interop, which starts the server");

/** The SMS the fake took for `to`, newest first. */
export async function messagesTo(to) {
  const [sid, token] = process.env.TWILIOSMS_FAKE_ACCOUNT.split(":");
  const url = new URL(`/2010-04-01/Accounts/${sid}/Messages.json`, process.env.TWILIOSMS_FAKE_URL);
  url.searchParams.set("To", to);
  url.searchParams.set("PageSize", "1000");
  const res = await fetch(url, {
    headers: { Authorization: "Basic " + Buffer.from(`${sid}:${token}`).toString("base64") },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).messages;
}

/** The code of the newest SMS to `to`. */
export async function codeTo(to) {
  const [newest] = await messagesTo(to);
  assert.ok(newest, `no SMS to ${to}`);
  return newest.body.match(/\d{6}/)[0];
}

/** A code that is not `code`. */
export const otherThan = (code) => (code === "000000" ? "111111" : "000000");
