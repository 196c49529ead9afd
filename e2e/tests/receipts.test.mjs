// Receipts end to end: a member of staff signs, downloads the sealed receipt from their
// signature's page, and anyone (logged out) checks it at /verify by file and by code; a
// copy with one byte changed is refused with the reason. The administrator downloads the
// person's evidence pack from the compliance dashboard. axe checks the verify page.

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
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

describe('receipts', () => {
  let server;
  let browser;
  let staff;
  let receiptPath;
  let code;
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    staff = server.account('Staff', 0);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a signer downloads a sealed receipt from their signature page', async () => {
    const page = await newPage(browser, server.baseURL);
    await login(page, staff);
    await toSignLink(page).click();
    await page.waitForURL('**/sign/*');
    await fillTypedSignature(page, { name: staff.name });
    await submitSignature(page);
    await page.waitForURL('**/me/signatures/*');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download your receipt (PDF)' }).click(),
    ]);
    const name = download.suggestedFilename();
    const m = name.match(/^receipt-([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\.pdf$/);
    assert.ok(m, `the file is named after the receipt code: ${name}`);
    code = m[1];
    const bytes = await readFile(await download.path());
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok(bytes.includes('%UNDERSIGN-RECEIPT-1 '), 'the receipt carries its seal');
    receiptPath = join(tmpdir(), `undersign-e2e-${process.pid}-${name}`);
    await writeFile(receiptPath, bytes);
    assertNoPageErrors(page);
    await page.context().close();
  });

  it('anyone checks the receipt at /verify by its file and by its code', async () => {
    const page = await newPage(browser, server.baseURL);
    await page.goto('/verify');
    await assertHeading(page, 'Check a receipt');
    await assertNoSeriousA11yViolations(page, 'the verify page');

    await page.getByLabel('Receipt PDF').setInputFiles(receiptPath);
    await Promise.all([page.waitForURL('**/verify/file'), page.getByRole('button', { name: 'Check the file' }).click()]);
    assert.equal((await page.locator('#verdict h2').innerText()).trim(), 'Valid receipt');
    const proven = await page.locator('dl.evidence').innerText();
    assert.match(proven, new RegExp(staff.name));
    assert.match(proven, /ICT Acceptable Use Policy, version 1/);
    assert.match(proven, new RegExp(code));
    await assertNoSeriousA11yViolations(page, 'the verify page with a valid receipt');

    await page.getByLabel('Receipt code').fill(code.toLowerCase().replaceAll('-', ' '));
    await Promise.all([page.waitForURL('**/verify/code'), page.getByRole('button', { name: 'Check the code' }).click()]);
    assert.equal((await page.locator('#verdict h2').innerText()).trim(), 'Valid receipt');
    assertNoPageErrors(page);
    await page.context().close();
  });

  it('a receipt with one byte changed is not valid, and the page says why', async () => {
    const bytes = await readFile(receiptPath);
    bytes[Math.floor(bytes.length / 3)] ^= 0x01;
    const changed = receiptPath.replace(/\.pdf$/, '-changed.pdf');
    await writeFile(changed, bytes);
    const page = await newPage(browser, server.baseURL);
    await page.goto('/verify');
    await page.getByLabel('Receipt PDF').setInputFiles(changed);
    await Promise.all([page.waitForURL('**/verify/file'), page.getByRole('button', { name: 'Check the file' }).click()]);
    assert.equal((await page.locator('#verdict h2').innerText()).trim(), 'Not valid');
    assert.match(await page.locator('#verdict').innerText(), /changed after it was issued/);
    await assertNoSeriousA11yViolations(page, 'the verify page with a refused receipt');
    await page.context().close();
  });

  it('the administrator downloads the signer\'s evidence pack from the dashboard', async () => {
    const page = await newPage(browser, server.baseURL);
    await login(page, server.account('School administrator', 0));
    await page.goto('/compliance?status=signed');
    const link = page.getByRole('link', { name: `Evidence pack of ${staff.name} (PDF)` });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.match(download.suggestedFilename(), /^evidence-demo-\d+\.pdf$/);
    const bytes = await readFile(await download.path());
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok(bytes.length > 10_000, `a pack with the policy text: ${bytes.length} bytes`);
    assertNoPageErrors(page);
    await page.context().close();
  });
});
