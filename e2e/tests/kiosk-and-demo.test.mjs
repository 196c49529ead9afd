// What a school notices when it first tries the demo, walked as a new user would:
// - staff sign and see their signature in plain words: no SHA-256 values, browser
//   identification strings or "Logged in by";
// - the demo's staff AUP has no paper-form signature lines or second declaration;
// - the school administrator registers a kiosk, sees the full address to open on the
//   tablet and its QR code, and sees who is on site;
// - the tablet, enrolled from that address, shows the short visitor AUP, never links to
//   the staff pages, names its signature controls apart, mentions no badge, and goes back
//   to its start screen by itself after a visitor signs in or out;
// - the demo has a receptionist, who sees the visitor on site.
// axe finds no serious or critical violation on any page visited.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  VISITOR_AUP_TITLE,
  assertHeading,
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  fillTypedSignature,
  launchBrowser,
  login,
  newPage,
  submitSignature,
  toSignLink,
} from '../lib/browser.mjs';

const TABLET = { width: 820, height: 1180 };

/** The visible text of the page's main part. */
async function mainText(page) {
  return page.locator('main').innerText();
}

/** Fails if the page shows a technical fact a signer should not have to read. */
async function assertPlain(page, what) {
  const text = await mainText(page);
  const userAgent = await page.evaluate(() => navigator.userAgent);
  assert.doesNotMatch(text, /SHA-?256/i, `${what} shows a SHA-256 value`);
  assert.doesNotMatch(text, /\b[0-9a-f]{64}\b/, `${what} shows a hash`);
  assert.ok(!text.includes(userAgent), `${what} shows the browser's identification string`);
  assert.doesNotMatch(text, /Logged in by/i, `${what} says how they logged in`);
}

/** The addresses of every link on the page that leaves the kiosk's own screens. */
async function linksOffTheKiosk(page) {
  const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return hrefs.filter((h) => !h.startsWith('/kiosk') && !h.startsWith('#'));
}

/** The seconds after which the page goes back by itself, and where to, or null. */
async function refreshOf(page) {
  const done = page.locator('a[data-return-after]');
  if ((await done.count()) === 0) return null;
  return { seconds: Number(await done.getAttribute('data-return-after')), target: await done.getAttribute('href') };
}

describe('the demo and the kiosk, as a school first tries them', () => {
  let server;
  let browser;

  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a member of staff signs the AUP and sees it in plain words', async () => {
    const staff = server.account('Staff', 0);
    const page = await newPage(browser, server.baseURL);
    await login(page, staff);
    await assertPlain(page, 'my page');
    await assertNoSeriousA11yViolations(page, 'my page');

    await toSignLink(page).click();
    await assertHeading(page, `${AUP_TITLE}, version 1`);
    await assertPlain(page, 'the sign page');
    // The paper form's lines and its second declaration are gone: the form has its own.
    const policy = await page.locator('article.policy-text').innerText();
    assert.doesNotMatch(policy, /Signature\s*\.{3,}/);
    assert.doesNotMatch(policy, /\(printed\)/);
    assert.doesNotMatch(policy, /I have read above statements/);
    assert.equal(await page.locator('#declaration').count(), 1);
    await assertNoSeriousA11yViolations(page, 'the sign page');

    // The council's document the policy refers to.
    const reference = page.locator('#sign-form fieldset').getByRole('link').first();
    const referenceTitle = (await reference.innerText()).trim();
    await reference.click();
    await assertHeading(page, referenceTitle);
    await assertPlain(page, 'the referenced document');
    await assertNoSeriousA11yViolations(page, 'the referenced document');
    await page.getByRole('link', { name: 'Back to the policy' }).click();
    await assertHeading(page, `${AUP_TITLE}, version 1`);

    await fillTypedSignature(page, { name: staff.name });
    await submitSignature(page);
    await page.waitForURL('**/me/signatures/*');
    await assertPlain(page, 'the signature page');
    const terms = await page.locator('dl.evidence dt').allInnerTexts();
    assert.ok(terms.includes('Documents acknowledged'), terms.join(', '));
    assert.ok(!terms.includes('From') && !terms.includes('Logged in by'), terms.join(', '));
    await page.getByRole('link', { name: /Download your receipt/ }).waitFor();
    await assertNoSeriousA11yViolations(page, 'the signature page');
    assertNoPageErrors(page);
  });

  let enrolAddress;
  it('the school administrator registers a kiosk, with its address and QR code, and sees who is on site', async () => {
    const admin = await newPage(browser, server.baseURL);
    await login(admin, server.account('School administrator'));
    const nav = admin.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Kiosks' }).click();
    await assertHeading(admin, 'Kiosks and visitor rules');
    await admin.getByLabel('Kiosk name').fill('Front desk tablet');
    await admin.getByRole('button', { name: 'Register and show the enrolment code' }).click();
    await admin.locator('#enrolment-code').waitFor();
    const code = (await admin.locator('#enrolment-code').innerText()).trim();
    enrolAddress = (await admin.locator('#enrolment-address').innerText()).trim();
    assert.equal(enrolAddress, `${server.baseURL}/kiosk/enrol?code=${code}`);
    const qr = admin.getByRole('img', { name: /QR code/ });
    const size = await qr.evaluate((img) =>
      img.complete ? img.naturalWidth : new Promise((r) => img.addEventListener('load', () => r(img.naturalWidth))),
    );
    assert.ok(size > 0, 'the QR code image loads under the CSP');
    await assertNoSeriousA11yViolations(admin, 'the kiosks page with a new kiosk');

    await nav.getByRole('link', { name: 'Visitors' }).click();
    await assertHeading(admin, 'Visitors on site now');
    await assertNoSeriousA11yViolations(admin, 'the visitors on site page');
    assertNoPageErrors(admin);
  });

  it('a visitor signs the short visitor AUP on the tablet, which returns to its start by itself', async () => {
    const kiosk = await newPage(browser, server.baseURL, { viewport: TABLET, hasTouch: true });
    // The tablet opens the address as shown, scanned or typed.
    await kiosk.goto(enrolAddress);
    await assertNoSeriousA11yViolations(kiosk, 'the enrolment page');
    assert.deepEqual(await linksOffTheKiosk(kiosk), [], 'the enrolment page');
    await Promise.all([kiosk.waitForURL('**/kiosk'), kiosk.getByRole('button', { name: 'Enrol' }).tap()]);
    await kiosk.locator('h1').waitFor();
    assert.match(await kiosk.locator('h1').innerText(), /^Welcome to /);
    assert.deepEqual(await linksOffTheKiosk(kiosk), [], 'the start screen');
    await assertNoSeriousA11yViolations(kiosk, 'the kiosk start screen');

    await kiosk.getByRole('link', { name: 'Sign in', exact: true }).tap();
    await assertHeading(kiosk, 'Sign in as a visitor');
    assert.doesNotMatch(await mainText(kiosk), /badge/i);
    assert.deepEqual(await linksOffTheKiosk(kiosk), [], 'the details screen');
    await assertNoSeriousA11yViolations(kiosk, 'the visitor details screen');
    await kiosk.getByLabel('Your full name', { exact: true }).fill('Victor Visitor');
    await kiosk.getByLabel('Who are you visiting?').selectOption({ index: 1 });
    await kiosk.locator('#email').fill('victor@example.org');
    await Promise.all([kiosk.waitForEvent('load'), kiosk.getByRole('button', { name: 'Continue' }).tap()]);

    await assertHeading(kiosk, `Read and sign the ${VISITOR_AUP_TITLE}`);
    const statements = await kiosk.locator('article.policy-text li').count();
    assert.ok(statements >= 5 && statements <= 10, `a handful of statements, not ${statements}`);
    const policy = await kiosk.locator('article.policy-text').innerText();
    assert.match(policy, /photographs/i);
    assert.match(policy, /Safeguarding/);
    assert.doesNotMatch(await mainText(kiosk), /SHA-?256/i);
    assert.deepEqual(await linksOffTheKiosk(kiosk), [], 'the sign screen');
    // The choice and the text box have names of their own.
    const typeIt = kiosk.getByRole('radio', { name: 'Type my signature', exact: true });
    const box = kiosk.getByRole('textbox', { name: 'Type your signature', exact: true });
    assert.equal(await typeIt.count(), 1);
    assert.equal(await box.count(), 1);
    assert.equal(await kiosk.getByRole('textbox', { name: 'Type my signature' }).count(), 0);
    await assertNoSeriousA11yViolations(kiosk, 'the visitor sign screen');

    await kiosk.locator('#declaration').tap();
    await kiosk.getByLabel('Your full name', { exact: true }).fill('Victor Visitor');
    await typeIt.check();
    await box.fill('Victor Visitor');
    await Promise.all([kiosk.waitForURL('**/kiosk/welcome/*'), kiosk.locator('#sign-button').tap()]);
    await assertHeading(kiosk, 'You are signed in, Victor Visitor');
    const welcomeBack = await refreshOf(kiosk);
    assert.equal(welcomeBack?.target, '/kiosk', 'the welcome screen goes back to the start');
    assert.ok(welcomeBack.seconds >= 10 && welcomeBack.seconds <= 60, `${welcomeBack.seconds} s`);
    assert.match(await kiosk.locator('#returns').innerText(), new RegExp(`${welcomeBack.seconds} seconds`));
    assert.equal(await kiosk.getByRole('link', { name: 'Done' }).getAttribute('href'), '/kiosk');
    assert.deepEqual(await linksOffTheKiosk(kiosk), [], 'the welcome screen');
    await assertNoSeriousA11yViolations(kiosk, 'the welcome screen');
    const code = (await kiosk.locator('#visitor-code').innerText()).trim();

    await kiosk.getByRole('link', { name: 'Done' }).tap();
    await kiosk.getByRole('link', { name: 'Sign out', exact: true }).tap();
    await assertHeading(kiosk, 'Sign out');
    assert.equal(await refreshOf(kiosk), null, 'the sign-out form waits for the visitor');
    await kiosk.getByLabel('Your visitor code, email address or full name').fill(code);
    await Promise.all([kiosk.waitForEvent('load'), kiosk.getByRole('button', { name: 'Sign out' }).tap()]);
    await assertHeading(kiosk, 'Goodbye, Victor Visitor');
    const goodbyeBack = await refreshOf(kiosk);
    assert.equal(goodbyeBack?.target, '/kiosk');
    assert.deepEqual(await linksOffTheKiosk(kiosk), [], 'the goodbye screen');
    await assertNoSeriousA11yViolations(kiosk, 'the goodbye screen');
    // Left alone, the tablet goes back to its start screen.
    await kiosk.waitForURL(`${server.baseURL}/kiosk`, { timeout: (goodbyeBack.seconds + 10) * 1000 });
    assert.match(await kiosk.locator('h1').innerText(), /^Welcome to /);
    assertNoPageErrors(kiosk);
  });

  it('the receptionist from the demo sees visitors on site', async () => {
    const desk = await newPage(browser, server.baseURL);
    await login(desk, server.account('Receptionist'));
    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Visitors' }).click();
    await assertHeading(desk, 'Visitors on site now');
    const left = await desk.locator('#recent tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(left.map((n) => n.trim()), ['Victor Visitor']);
    await assertNoSeriousA11yViolations(desk, 'the receptionist\'s visitors page');
    assertNoPageErrors(desk);
  });
});
