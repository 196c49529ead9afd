// The school administrator sends a member of staff a password reset link; the person
// opens it from the email, chooses a password and is signed in. The administrator never
// sees a password, and every page on the way is axe clean.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import { startSmtpSink } from '../lib/smtp-sink.mjs';
import {
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  launchBrowser,
  login,
  newPage,
} from '../lib/browser.mjs';

describe('a password reset sent by the administrator', () => {
  let sink;
  let server;
  let browser;
  before(async () => {
    sink = await startSmtpSink();
    server = await startDemo({ smtp: `127.0.0.1:${sink.port}` });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await sink?.close();
  });

  it('reaches the person, who chooses a password and is signed in', async () => {
    const admin = server.account('School administrator');
    const staff = server.account('Staff', 1);
    const desk = await newPage(browser, server.baseURL);
    await login(desk, admin);
    await desk.goto('/people');
    await desk.getByRole('link', { name: staff.name }).click();
    assert.equal(await desk.locator('input[name="password"]').count(), 0, 'the form offers no password');
    await assertNoSeriousA11yViolations(desk, "a person's page");
    await desk.getByRole('button', { name: 'Send a password reset link' }).click();
    await desk.getByText('A link to choose a password was sent').waitFor();
    await assertNoSeriousA11yViolations(desk, 'the page saying the link was sent');
    assertNoPageErrors(desk);

    const mail = await sink.waitFor((m) => m.to.includes(staff.email) && /\/reset\//.test(m.text));
    const link = /https?:\/\/\S+\/reset\/\S+/.exec(mail.text)?.[0];
    assert.ok(link, `no reset link in:\n${mail.text}`);
    assert.match(mail.text, /Nobody else knows or can see the password you choose/);

    const person = await newPage(browser, server.baseURL);
    await person.goto(new URL(link).pathname);
    await person.getByRole('heading', { name: 'Choose your password' }).waitFor();
    await assertNoSeriousA11yViolations(person, 'the choose-a-password page');
    await person.getByLabel('New password', { exact: true }).fill('short');
    await person.getByLabel('New password again').fill('short');
    await person.getByRole('button', { name: 'Set password and sign in' }).click();
    await person.locator('#error-summary').waitFor();
    await assertNoSeriousA11yViolations(person, 'the choose-a-password page with an error');
    const chosen = 'a password of my very own';
    await person.getByLabel('New password', { exact: true }).fill(chosen);
    await person.getByLabel('New password again').fill(chosen);
    await person.getByRole('button', { name: 'Set password and sign in' }).click();
    await person.waitForURL(/\/me$/);
    assertNoPageErrors(person);

    // The link works once; the chosen password now signs in.
    await person.goto(new URL(link).pathname);
    await person.getByRole('heading', { name: 'This link has been used' }).waitFor();
    const again = await newPage(browser, server.baseURL);
    await login(again, { ...staff, password: chosen });
    await again.waitForURL(/\/me$/);
  });
});
