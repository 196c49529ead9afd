// The reception kiosk on a tablet (820×1180): the school administrator registers a kiosk
// and enrols the tablet with the one-time code; a visitor signs in, reads and signs the
// visitor AUP, and signs out with their visitor code; a returning visitor within the
// school's re-signing period is not asked to sign again, until a major version is
// published; axe finds no serious or critical violation on the kiosk pages.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import { startSmtpSink } from '../lib/smtp-sink.mjs';
import {
  VISITOR_AUP_TITLE,
  assertHeading,
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  launchBrowser,
  login,
  newPage,
} from '../lib/browser.mjs';

const TABLET = { width: 820, height: 1180 };

describe('visitors at the reception kiosk (tablet)', () => {
  let server;
  let browser;
  let kiosk;
  let admin;
  let head;
  let visitorCode;
  let sink;

  before(async () => {
    sink = await startSmtpSink();
    server = await startDemo({ smtp: `127.0.0.1:${sink.port}` });
    browser = await launchBrowser();
    admin = await newPage(browser, server.baseURL);
    head = await newPage(browser, server.baseURL);
    kiosk = await newPage(browser, server.baseURL, { viewport: TABLET, hasTouch: true });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await sink?.close();
  });

  async function detailsAndContinue({ name, email }) {
    await kiosk.goto('/kiosk');
    await assertHeading(kiosk, `Welcome to ${await schoolName()}`);
    await kiosk.getByRole('link', { name: 'Sign in', exact: true }).tap();
    await assertHeading(kiosk, 'Sign in as a visitor');
    await kiosk.getByLabel('Your full name', { exact: true }).fill(name);
    await kiosk.locator('#organisation').fill('Acme Lifts Ltd');
    await kiosk.getByLabel('Who are you visiting?').selectOption({ index: 1 });
    await kiosk.locator('#email').fill(email);
    await kiosk.locator('#car_registration').fill('ab12 cde');
    await Promise.all([kiosk.waitForEvent('load'), kiosk.getByRole('button', { name: 'Continue' }).tap()]);
  }

  let school;
  async function schoolName() {
    if (!school) {
      const text = await kiosk.locator('h1').innerText();
      school = text.replace(/^Welcome to /, '').trim();
    }
    return school;
  }

  async function signOnKiosk(name) {
    for (const box of await kiosk.locator('#sign-form input[name=ack]').all()) await box.tap();
    await kiosk.locator('#declaration').tap();
    await kiosk.getByLabel('Your full name', { exact: true }).fill(name);
    // Draw the signature with a finger-like pointer on the canvas.
    await kiosk.getByLabel('Draw my signature', { exact: true }).check();
    const canvas = kiosk.locator('#signature-canvas');
    await canvas.waitFor({ state: 'visible' });
    const box = await canvas.boundingBox();
    await kiosk.mouse.move(box.x + 20, box.y + box.height / 2);
    await kiosk.mouse.down();
    for (let i = 1; i <= 10; i++) {
      await kiosk.mouse.move(box.x + 20 + i * 30, box.y + box.height / 2 + (i % 2 ? 20 : -20));
    }
    await kiosk.mouse.up();
    await Promise.all([kiosk.waitForURL('**/kiosk/welcome/*'), kiosk.locator('#sign-button').tap()]);
  }

  it('the administrator registers a kiosk and the tablet enrols with the one-time code', async () => {
    await login(admin, server.account('School administrator'));
    await admin.goto('/kiosks');
    await assertHeading(admin, 'Kiosks and visitor rules');
    await admin.getByLabel('Kiosk name').fill('Main reception');
    await admin.getByRole('button', { name: 'Register and show the enrolment code' }).click();
    await admin.locator('#enrolment-code').waitFor();
    const code = (await admin.locator('#enrolment-code').innerText()).trim();
    assert.match(code, /^[A-Z0-9]{5}-[A-Z0-9]{5}$/);

    // Not enrolled yet: the kiosk refuses.
    const refused = await kiosk.goto('/kiosk');
    assert.equal(refused.status(), 403);
    await kiosk.goto(`/kiosk/enrol?code=${code}`);
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk enrolment page');
    await Promise.all([kiosk.waitForURL('**/kiosk'), kiosk.getByRole('button', { name: 'Enrol' }).tap()]);
    await kiosk.locator('h1').waitFor();
    assert.match(await kiosk.locator('h1').innerText(), /^Welcome to /);
    const cookies = await kiosk.context().cookies();
    const device = cookies.find((c) => c.name === 'undersign_kiosk');
    assert.ok(device?.httpOnly, 'the kiosk token is in an HttpOnly cookie');
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk start page');
  });

  it('a visitor signs in, reads and signs the visitor policy, and signs out with their code', async () => {
    await detailsAndContinue({ name: 'Vera Visitor', email: 'vera@acme.example' });
    await assertHeading(kiosk, `Read and sign the ${VISITOR_AUP_TITLE}`);
    const policyText = await kiosk.locator('article.policy-text').innerText();
    assert.ok(policyText.length > 200, 'the policy text is shown');
    // The short visitor policy, not the staff AUP's 32 statements.
    const statements = await kiosk.locator('article.policy-text li').count();
    assert.ok(statements >= 5 && statements <= 10, `${statements} statements`);
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk sign page');

    // An unticked declaration is refused with a clear message, then corrected.
    await kiosk.getByLabel('Your full name', { exact: true }).fill('Vera Visitor');
    await kiosk.locator('#typed_signature').fill('Vera Visitor');
    await Promise.all([kiosk.waitForEvent('load'), kiosk.locator('#sign-button').tap()]);
    const summary = await kiosk.locator('#error-summary').innerText();
    assert.match(summary, /Tick the declaration/);
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk sign page with errors');

    await signOnKiosk('Vera Visitor');
    await assertHeading(kiosk, 'You are signed in, Vera Visitor');
    visitorCode = (await kiosk.locator('#visitor-code').innerText()).trim();
    assert.match(visitorCode, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    assert.match(await kiosk.getByRole('status').innerText(), /Thank you for signing/);
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk welcome page');

    // She gave her address: her sealed receipt of the visit arrives by email.
    const receipt = await sink.waitFor((m) => m.to.includes('vera@acme.example'));
    assert.match(receipt.raw, /Subject: Your visit to /);
    assert.match(receipt.raw, /filename(\*0)?="visit-receipt-[A-Z0-9-]+\.pdf"/);
    assert.match(receipt.raw, /application\/pdf/);

    await kiosk.getByRole('link', { name: 'Done' }).tap();
    await kiosk.getByRole('link', { name: 'Sign out', exact: true }).tap();
    await assertHeading(kiosk, 'Sign out');
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk sign-out page');
    await kiosk.getByLabel('Your visitor code, email address or full name').fill(visitorCode.toLowerCase());
    await Promise.all([kiosk.waitForEvent('load'), kiosk.getByRole('button', { name: 'Sign out' }).tap()]);
    await assertHeading(kiosk, 'Goodbye, Vera Visitor');
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk goodbye page');
    assertNoPageErrors(kiosk);
  });

  it('a returning visitor within the re-signing period is not asked to sign again', async () => {
    await detailsAndContinue({ name: 'Vera Visitor', email: 'vera@acme.example' });
    await kiosk.waitForURL('**/kiosk/welcome/*');
    await assertHeading(kiosk, 'You are signed in, Vera Visitor');
    assert.match(await kiosk.getByRole('status').innerText(), /earlier signature/);
    assert.equal((await kiosk.locator('#visitor-code').innerText()).trim(), visitorCode, 'the same visitor code');
    assert.equal(await kiosk.locator('#sign-form').count(), 0);
    // Signing out by email works too.
    await kiosk.goto('/kiosk/sign-out');
    await kiosk.getByLabel('Your visitor code, email address or full name').fill('vera@acme.example');
    await Promise.all([kiosk.waitForEvent('load'), kiosk.getByRole('button', { name: 'Sign out' }).tap()]);
    await assertHeading(kiosk, 'Goodbye, Vera Visitor');
  });

  it('after a major version of the policy, the returning visitor signs again', async () => {
    await login(head, server.account('Headteacher'));
    await head.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies' }).click();
    await head.getByRole('link', { name: VISITOR_AUP_TITLE, exact: true }).click();
    await head.getByRole('link', { name: 'Write a new version' }).click();
    const body = head.getByLabel('Policy text');
    await body.fill(`${await body.inputValue()}\n\n- I will sign in and out at reception every time I visit.\n`);
    await head.getByLabel('What changed', { exact: true }).fill('Visitors sign in and out every time.');
    await head.locator('#change_kind-major').check();
    await head.getByRole('button', { name: 'Save the draft and preview' }).click();
    await head.waitForURL(/\/versions\/\d+$/);
    // Publishing asks for confirmation first, saying who will be asked to sign.
    await head.getByRole('button', { name: /^Publish version \d+$/ }).click();
    await head.waitForURL(/\/versions\/\d+\/publish\??$/);
    await head.getByRole('button', { name: /^Publish version \d+$/ }).click();
    await head.waitForURL(/\/policies\/\d+\?published=\d+$/);

    await detailsAndContinue({ name: 'Vera Visitor', email: 'vera@acme.example' });
    await assertHeading(kiosk, `Read and sign the ${VISITOR_AUP_TITLE}`);
    assert.match(await kiosk.locator('.lead').innerText(), /sign it again/);
    assert.ok((await kiosk.locator('article.policy-text').innerText()).includes('sign in and out at reception'));
    await signOnKiosk('Vera Visitor');
    assert.match(await kiosk.getByRole('status').innerText(), /Thank you for signing/);
    assertNoPageErrors(kiosk);
  });

  it('the headteacher sees the visitor on site and the fire roll lists them', async () => {
    await head.goto('/reception');
    await assertHeading(head, 'Visitors on site now');
    const names = await head.locator('#on-site tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(names.map((n) => n.trim()), ['Vera Visitor']);
    await head.goto('/reception/fire-roll');
    assert.equal(await head.locator('#fire-roll tbody tr').count(), 1);
    await head.emulateMedia({ media: 'print' });
    assert.equal(await head.locator('.site-header').isVisible(), false, 'the navigation is not printed');
    await head.emulateMedia({ media: 'screen' });
  });
});
