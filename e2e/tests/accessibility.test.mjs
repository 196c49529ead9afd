// axe-core, run in the browser on the pages a signer uses: none may have a serious or
// critical violation. Lesser ones are printed for the record.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  assertNoSeriousA11yViolations,
  axeViolations,
  describeViolations,
  errorSummary,
  fillTypedSignature,
  launchBrowser,
  login,
  newPage,
  submitSignature,
  toSignLink,
  toSignTitles,
} from '../lib/browser.mjs';

describe('accessibility of the signing pages (axe)', () => {
  let server;
  let browser;
  let page;
  let staff;
  const minor = [];
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    staff = server.account('Staff', 0);
    page = await newPage(browser, server.baseURL);
  });
  after(async () => {
    if (minor.length) {
      console.log(`axe: moderate or minor findings, for the record:\n${minor.join('\n')}`);
    }
    await browser?.close();
    await server?.stop();
  });

  async function check(what) {
    const rest = await assertNoSeriousA11yViolations(page, what);
    if (rest.length) minor.push(`${what}:\n${describeViolations(rest)}`);
  }

  it('the login page has no serious or critical axe violations', async () => {
    await page.goto('/login');
    await check('the login page');
  });

  it('the login page showing a wrong password has no serious or critical axe violations', async () => {
    await page.goto('/login');
    await page.getByLabel('Email address', { exact: true }).fill(staff.email);
    await page.getByLabel('Password', { exact: true }).fill('not the password at all');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#error-summary').waitFor();
    await check('the login page with an error');
  });

  it('my page before signing has no serious or critical axe violations', async () => {
    await login(page, staff);
    assert.equal((await toSignTitles(page)).length, 1, 'something is to sign');
    await check('my page before signing');
  });

  it('the sign page has no serious or critical axe violations, with the typed or the drawn signature shown', async () => {
    await toSignLink(page).click();
    await page.waitForURL('**/sign/*');
    await check('the sign page');
    await page.getByLabel('Draw my signature', { exact: true }).check();
    await page.locator('#signature-canvas').waitFor({ state: 'visible' });
    await check('the sign page with the drawing canvas');
    await page.locator('details.decline summary').click();
    await page.locator('#reason').waitFor({ state: 'visible' });
    await check('the sign page with the decline form open');
  });

  it('the sign page showing errors has no serious or critical axe violations', async () => {
    await page.reload();
    await fillTypedSignature(page, { name: 'Somebody Else', declaration: false });
    await submitSignature(page);
    assert.ok((await errorSummary(page)).length >= 2, 'the page shows errors');
    await check('the sign page with errors');
  });

  it('the signature page and my page after signing have no serious or critical axe violations', async () => {
    await fillTypedSignature(page, { name: staff.name });
    await Promise.all([page.waitForURL('**/me/signatures/*'), page.locator('#sign-button').click()]);
    await check('the signature page');
    await page.goto('/me');
    assert.deepEqual(await toSignTitles(page), []);
    assert.match(await page.locator('section[aria-labelledby="signed"]').innerText(), new RegExp(AUP_TITLE));
    await check('my page after signing');
  });

  it('the axe check finds a violation planted in the page, so it can fail', async () => {
    // A control: axe really runs under the site's Content-Security-Policy and reports.
    await page.goto('/me');
    await page.evaluate(() => {
      const img = document.createElement('img');
      img.src = '/static/app.css';
      document.querySelector('main').append(img);
    });
    const found = await axeViolations(page);
    const imageAlt = found.find((v) => v.id === 'image-alt');
    assert.ok(imageAlt, `axe reported the image without alt text: ${JSON.stringify(found)}`);
    assert.equal(imageAlt.impact, 'critical');
    await assert.rejects(assertNoSeriousA11yViolations(page, 'the planted page'), /image-alt/);
  });
});
