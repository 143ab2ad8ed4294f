// Logto's HTTP SMS connector, @logto/connector-http-sms, run as Logto runs
// it, against twiliosms-server's /hooks/logto.
import assert from "node:assert/strict";
import { test } from "node:test";

import createConnector from "@logto/connector-http-sms";
import { ConnectorError, ConnectorErrorCodes } from "@logto/connector-kit";

import { env, messagesTo } from "./fake.mjs";

// DOC docs/hooks/logto.md: Logto
// The connector as Logto loads it: the package's default export is its
// factory, and getConfig gives it the settings of the console's form.
async function logtoConnector(endpoint, authorization) {
  return createConnector({ getConfig: async () => ({ endpoint, authorization }) });
}
// END DOC

const connector = await logtoConnector(`${env.url}/hooks/logto`, env.logtoAuthorization);

/** The ConnectorError sendMessage rejects `promise` with. */
async function connectorError(promise) {
  const err = await promise.then(
    () => assert.fail("expected a ConnectorError"),
    (e) => e,
  );
  assert.ok(err instanceof ConnectorError, `${err}`);
  return err;
}

test("SignIn, Register and ForgotPassword, in the reader's language", async () => {
  const flows = [
    { type: "SignIn", to: "14155552681", says: "Ihr Anmeldecode lautet 314159" },
    { type: "Register", to: "14155552682", says: "Ihr Registrierungscode lautet 314159" },
    { type: "ForgotPassword", to: "14155552683", says: "Ihr Code zum Zurücksetzen lautet 314159" },
  ];
  for (const { type, to, says } of flows) {
    // As Logto's passcode library calls it: the stored number, digits
    // without a "+", and the code with the languages Logto resolved.
    await connector.sendMessage({ to, type, payload: { code: "314159", locale: "de", uiLocales: "de-CH en" }, ip: "203.0.113.7" });
    const msgs = await messagesTo(`+${to}`);
    assert.equal(msgs.length, 1, type);
    assert.equal(msgs[0].body, says);
  }
});

test("a wrong authorization sends nothing, and Logto's user reads nothing of the server", async () => {
  const wrong = await logtoConnector(`${env.url}/hooks/logto`, "Bearer not-the-configured-value-0123456789");
  const to = "14155552684";
  const err = await connectorError(wrong.sendMessage({ to, type: "SignIn", payload: { code: "271828" } }));
  assert.equal(err.code, ConnectorErrorCodes.General);
  assert.equal(err.data.message, "Something went wrong on our side.");
  assert.deepEqual(await messagesTo(`+${to}`), []);
});

test("a request sent again texts once", async () => {
  const to = "14155552685";
  const data = { to, type: "SignIn", payload: { code: "161803", locale: "en" } };
  await connector.sendMessage(data);
  await connector.sendMessage(data);
  const msgs = await messagesTo(`+${to}`);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].body, "Your sign-in code is 161803");
});

test("a refusal: the words Logto shows its user", async () => {
  const to = "14155552686";
  const codes = ["112358", "132134", "558914", "423377", "610987"];
  for (const code of codes) {
    await connector.sendMessage({ to, type: "SignIn", payload: { code, locale: "de" } });
  }
  // A sixth code to the number within 10 minutes: the limit.
  const err = await connectorError(connector.sendMessage({ to, type: "SignIn", payload: { code: "159725", locale: "de" } }));
  assert.equal(err.code, ConnectorErrorCodes.General);
  // Logto answers its 400 connector.general with its phrase and this data
  // as JSON: one sentence in the reader's language, with nothing around it.
  assert.match(err.data.message, /^Zu früh: .*\d+ s.*\.$/);
  assert.deepEqual(Object.keys(err.data), ["message"]);
  assert.equal((await messagesTo(`+${to}`)).length, codes.length);

  const premiumRate = "19002345678"; // refused before sending
  const refused = await connectorError(connector.sendMessage({ to: premiumRate, type: "SignIn", payload: { code: "112358", locale: "de" } }));
  assert.equal(refused.data.message, "Diese Nummer kann keine SMS empfangen. Versuchen Sie eine andere.");
  assert.deepEqual(await messagesTo(`+${premiumRate}`), []);
});
