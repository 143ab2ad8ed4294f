// twilio-node's Verify v2 client, as its users write it, against
// twiliosms-server: the one change is the Verify domain's baseUrl.
import assert from "node:assert/strict";
import { test } from "node:test";

import twilio from "twilio";

import { codeTo, env, messagesTo, otherThan } from "./fake.mjs";

// DOC docs/server.md: twilio-node
// accountSid and authToken: a pair of TWILIOSMS_API_CREDENTIALS, whose user
// is AC and 32 hex digits, since twilio-node takes no other account SID.
function verifyService(baseUrl, accountSid, authToken, serviceSid) {
  const client = twilio(accountSid, authToken); // leave edge and region unset
  client.verify.baseUrl = baseUrl; // instead of https://verify.twilio.com
  return client.verify.v2.services(serviceSid);
}
// END DOC

const service = verifyService(env.url, env.accountSid, env.authToken, env.serviceSid);

/** The RestException twilio-node rejects `promise` with. */
async function restException(promise) {
  const err = await promise.then(
    () => assert.fail("expected a RestException"),
    (e) => e,
  );
  assert.ok(err instanceof twilio.RestException, `${err}`);
  return err;
}

test("send, resend, a wrong code, fetch, the right code, the same code again", async () => {
  const to = "+14155552671";
  const sent = await service.verifications.create({ to, channel: "sms" });
  assert.match(sent.sid, /^VE[0-9a-f]{32}$/);
  assert.equal(sent.serviceSid, env.serviceSid);
  assert.equal(sent.accountSid, "AC0123456789abcdef0123456789abcdef", "the connector's account");
  assert.equal(sent.to, to);
  assert.equal(sent.channel, "sms");
  assert.equal(sent.status, "pending");
  assert.equal(sent.valid, false);
  assert.ok(sent.dateCreated instanceof Date && !Number.isNaN(sent.dateCreated.getTime()), "twilio-node reads the date");
  assert.equal(sent.sendCodeAttempts.length, 1);
  assert.equal(sent.url, `${env.url}/v2/Services/${env.serviceSid}/Verifications/${sent.sid}`);

  const resent = await service.verifications.create({ to, channel: "sms" });
  assert.equal(resent.sid, sent.sid, "a resend keeps the pending verification");
  assert.equal(resent.sendCodeAttempts.length, 2);
  assert.equal((await messagesTo(to)).length, 2, "and sends a second SMS");
  const code = await codeTo(to);

  const wrong = await service.verificationChecks.create({ to, code: otherThan(code) });
  assert.equal(wrong.status, "pending");
  assert.equal(wrong.valid, false);

  const fetched = await service.verifications(sent.sid).fetch();
  assert.equal(fetched.sid, sent.sid);
  assert.equal(fetched.status, "pending");

  const right = await service.verificationChecks.create({ verificationSid: sent.sid, code });
  assert.equal(right.status, "approved");
  assert.equal(right.valid, true);
  assert.equal(right.to, to);

  // Approved, the verification is gone, as in Verify.
  const again = await restException(service.verificationChecks.create({ to, code }));
  assert.equal(again.status, 404);
  assert.equal(again.code, 20404);
  assert.equal(again.moreInfo, "https://www.twilio.com/docs/errors/20404");
});

test("cancel", async () => {
  const to = "+14155552672";
  const sent = await service.verifications.create({ to, channel: "sms" });
  const canceled = await service.verifications(sent.sid).update({ status: "canceled" });
  assert.equal(canceled.status, "canceled");
  const gone = await restException(service.verifications(sent.sid).fetch());
  assert.equal(gone.code, 20404);
  assert.equal(gone.status, 404);
});

test("60202: five wrong codes lock the verification, the right one included", async () => {
  const to = "+14155552673";
  await service.verifications.create({ to, channel: "sms" });
  const code = await codeTo(to);
  for (let i = 0; i < 5; i++) {
    const check = await service.verificationChecks.create({ to, code: otherThan(code) });
    assert.equal(check.status, "pending");
  }
  const locked = await restException(service.verificationChecks.create({ to, code }));
  assert.equal(locked.status, 429);
  assert.equal(locked.code, 60202);
  assert.equal(locked.moreInfo, "https://www.twilio.com/docs/errors/60202");
  assert.equal(typeof locked.message, "string");
  assert.ok(locked.message.length > 0);
});

test("60203: five sends to a number, then the limit", async () => {
  const to = "+14155552674";
  for (let i = 0; i < 5; i++) {
    await service.verifications.create({ to, channel: "sms" });
  }
  const limited = await restException(service.verifications.create({ to, channel: "sms" }));
  assert.equal(limited.status, 429);
  assert.equal(limited.code, 60203);
  assert.equal(limited.moreInfo, "https://www.twilio.com/docs/errors/60203");
  assert.equal((await messagesTo(to)).length, 5, "the sixth sent nothing");
});

test("a Twilio error, as twilio-node exposes it", async () => {
  const other = verifyService(env.url, env.accountSid, "0".repeat(32), env.serviceSid);
  const denied = await restException(other.verifications.create({ to: "+14155552675", channel: "sms" }));
  assert.equal(denied.status, 401);
  assert.equal(denied.code, 20003);
  assert.equal(denied.moreInfo, "https://www.twilio.com/docs/errors/20003");

  const whatsapp = await restException(service.verifications.create({ to: "+14155552675", channel: "whatsapp" }));
  assert.equal(whatsapp.status, 400);
  assert.equal(whatsapp.code, 60223);
  assert.deepEqual(await messagesTo("+14155552675"), []);
});
