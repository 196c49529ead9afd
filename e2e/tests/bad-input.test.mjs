// Mistakes on the sign form: each is named in the error summary, linked to its field,
// what was entered is kept, and nothing is signed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  assertNoPageErrors,
  errorSummary,
  fillTypedSignature,
  launchBrowser,
  login,
  newPage,
  signedRows,
  submitSignature,
  toSignLink,
  toSignTitles,
} from '../lib/browser.mjs';

describe('bad input on the sign form', () => {
  let server;
  let browser;
  let page;
  let staff;
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    staff = server.account('Staff', 0);
    page = await newPage(browser, server.baseURL);
    await login(page, staff);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function openAup() {
    await page.goto('/me');
    await toSignLink(page).click();
    await page.waitForURL('**/sign/*');
  }

  async function assertNothingSigned() {
    await page.goto('/me');
    assert.deepEqual(await toSignTitles(page), [`${AUP_TITLE}, version 1`], 'the AUP is still to sign');
    assert.deepEqual(await signedRows(page), [], 'nothing is signed');
  }

  it('a name that does not match the record is refused with a message naming the problem', async () => {
    await openAup();
    const wrong = 'Sam Tailor';
    assert.notEqual(wrong.toLowerCase(), staff.name.toLowerCase());
    await fillTypedSignature(page, { name: wrong, signature: staff.name });
    await submitSignature(page);

    assert.match(await page.title(), /^Error: /, 'the page title says there is an error');
    const summary = page.locator('#error-summary');
    assert.equal(await summary.getAttribute('role'), 'alert');
    assert.match(await summary.locator('h2').innerText(), /There is a problem/);
    const errors = await errorSummary(page);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0].href, '#typed_name');
    assert.match(errors[0].message, /does not match the name on your record/);
    assert.ok(errors[0].message.includes(staff.name), 'the message says which name is on the record');
    // The focus is on the summary, which sits below the whole policy text.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'error-summary');
    assert.equal(await summary.isVisible(), true);

    // What was typed is kept so it can be corrected.
    assert.equal(await page.locator('#typed_name').inputValue(), wrong);
    assert.equal(await page.locator('#declaration').isChecked(), true);
    assert.equal(await page.locator('#typed_signature').inputValue(), staff.name);

    // The link in the summary takes the focus to the field.
    await page.locator('#error-summary a[href="#typed_name"]').click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'typed_name');

    await assertNothingSigned();
  });

  it('the name is matched ignoring case and extra spaces, so this is not an error', async () => {
    // A control for the test above: the same form with the right name, oddly typed,
    // gets no name error (it fails only on the declaration left unticked on purpose).
    await openAup();
    const odd = `  ${staff.name.toUpperCase().replace(' ', '   ')} `;
    await fillTypedSignature(page, { name: odd, signature: staff.name, declaration: false });
    await submitSignature(page);
    const errors = await errorSummary(page);
    assert.deepEqual(errors.map((e) => e.href), ['#declaration'], JSON.stringify(errors));
    await assertNothingSigned();
  });

  it('an unticked declaration is refused with a message naming the problem', async () => {
    await openAup();
    await fillTypedSignature(page, { name: staff.name, declaration: false });
    await submitSignature(page);

    const errors = await errorSummary(page);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.equal(errors[0].href, '#declaration');
    assert.match(errors[0].message, /Tick the declaration/);
    assert.equal(await page.locator('#declaration').isChecked(), false);
    assert.equal(await page.locator('#typed_name').inputValue(), staff.name);
    await assertNothingSigned();
  });

  it('an unread referenced document, an empty name and a missing drawing are all named at once', async () => {
    await openAup();
    await page.locator('#declaration').check();
    await page.getByLabel('Draw my signature', { exact: true }).check();
    await submitSignature(page);

    const hrefs = (await errorSummary(page)).map((e) => e.href);
    assert.ok(hrefs.includes('#typed_name'), `empty name: ${hrefs}`);
    assert.ok(hrefs.includes('#signature-canvas'), `nothing drawn: ${hrefs}`);
    assert.ok(hrefs.some((h) => /^#ack-\d+$/.test(h)), `document not acknowledged: ${hrefs}`);
    const messages = (await errorSummary(page)).map((e) => e.message).join('\n');
    assert.match(messages, /Type your full name/);
    assert.match(messages, /Draw your signature/);
    assert.match(messages, /Confirm that you have read/);
    // The drawn choice is kept, so the canvas is shown again.
    assert.equal(await page.locator('#signature-canvas').isVisible(), true);
    await assertNothingSigned();
    assertNoPageErrors(page);
  });
});
