// The school administrator finds who has not signed the AUP, narrows the list to one role,
// downloads it as CSV, chases those people and downloads one person's evidence pack;
// sets the reminder schedule and adds a holiday. axe finds no serious or critical
// violation on the dashboard or the reminders page.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  describeViolations,
  launchBrowser,
  login,
  newPage,
} from '../lib/browser.mjs';

describe('the compliance dashboard', () => {
  let server;
  let browser;
  let page;
  let admin;
  const minor = [];
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    admin = server.account('School administrator', 0);
    page = await newPage(browser, server.baseURL);
  });
  after(async () => {
    if (minor.length) console.log(`axe: moderate or minor findings, for the record:\n${minor.join('\n')}`);
    await browser?.close();
    await server?.stop();
  });

  async function check(what) {
    const rest = await assertNoSeriousA11yViolations(page, what);
    if (rest.length) minor.push(`${what}:\n${describeViolations(rest)}`);
  }

  async function listed() {
    return (await page.locator('table.people tbody tr td:first-child .name').allInnerTexts()).map((t) => t.trim());
  }

  it('the administrator finds who has not signed from the navigation', async () => {
    await login(page, admin);
    await Promise.all([
      page.waitForURL('**/compliance'),
      page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Compliance' }).click(),
    ]);
    const heading = (await page.locator('#people-heading').innerText()).trim();
    assert.match(heading, /^Who has not signed \(\d+\)$/);
    const names = await listed();
    assert.ok(names.includes('Gareth Evans'), `the governor is listed: ${names}`);
    assert.ok(names.includes('Sam Taylor'), `a member of staff is listed: ${names}`);
    assert.ok(await page.locator('figure svg[role=img]').isVisible(), 'the progress chart is drawn');
    assertNoPageErrors(page);
  });

  it('the dashboard has no serious or critical axe violations, with the progress table open', async () => {
    await check('the compliance dashboard');
    await page.locator('details summary', { hasText: 'Show the progress as a table' }).click();
    await check('the compliance dashboard with the progress table open');
  });

  it('filtering by role leaves only the people in that role', async () => {
    await page.getByLabel('Role', { exact: true }).selectOption({ label: 'Governor' });
    await Promise.all([
      page.waitForURL(/role=governor/),
      page.getByRole('button', { name: 'Filter' }).click(),
    ]);
    assert.deepEqual(await listed(), ['Gareth Evans']);
    assert.equal(await page.getByLabel('Role', { exact: true }).inputValue(), 'governor', 'the filter is kept');
    await check('the filtered compliance dashboard');
    assertNoPageErrors(page);
  });

  it('the filtered list downloads as a CSV with only those people', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download the people not signed, with these filters (CSV)' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^outstanding-demo-\d{4}-\d{2}-\d{2}\.csv$/);
    const text = (await readFile(await download.path(), 'utf8')).replace(/^\uFEFF/, '');
    const lines = text.trim().split(/\r\n/);
    assert.match(lines[0], /^"Name","Email","Roles","Policy","Status"/);
    assert.equal(lines.length, 2, text);
    assert.match(lines[1], /^"Gareth Evans","governor@demo\.example","Governor","ICT Acceptable Use Policy version 1"/);
  });

  it('chasing everyone shown queues a reminder for them and says so', async () => {
    await Promise.all([
      page.waitForURL(/chased=1/),
      page.getByRole('button', { name: /^Chase all shown/ }).click(),
    ]);
    assert.equal((await page.locator('#chased').innerText()).trim(), 'Reminder queued for 1 person.');
    assert.deepEqual(await listed(), ['Gareth Evans'], 'the list is still filtered');
    assert.equal(await page.getByLabel('Role', { exact: true }).inputValue(), 'governor');
    await check('the compliance dashboard after chasing');
    // The Chase button of one person says the same (a second press the same day sends
    // nothing more, but the reminder is queued).
    await Promise.all([
      page.waitForURL(/chased=1/),
      page.getByRole('button', { name: 'Chase Gareth Evans', exact: true }).click(),
    ]);
    assert.equal((await page.locator('#chased').innerText()).trim(), 'Reminder queued for 1 person.');
    assertNoPageErrors(page);
  });

  it('the administrator downloads the evidence pack of a person on the list', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Evidence pack of Gareth Evans (PDF)' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^evidence-demo-\d+\.pdf$/);
    const bytes = await readFile(await download.path());
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok(bytes.includes('%%EOF'), 'a whole PDF');
    assertNoPageErrors(page);
  });

  it('the reminders page saves the schedule and a holiday, with errors beside the fields', async () => {
    await Promise.all([
      page.waitForURL('**/compliance/reminders'),
      page.getByRole('link', { name: 'Reminders and holidays' }).click(),
    ]);
    await check('the reminders and holidays page');
    await page.getByLabel('Tell the headteacher after (days)').fill('5');
    await Promise.all([
      page.waitForLoadState('load'),
      page.getByRole('button', { name: 'Save the schedule' }).click(),
    ]);
    assert.match(
      await page.locator('#escalate_to_head_days-error').innerText(),
      /the headteacher is told after the line manager: enter more than 10 days/,
    );
    await check('the reminders page with an error');
    await page.getByLabel('Tell the headteacher after (days)').fill('25');
    await Promise.all([
      page.waitForURL(/saved=schedule/),
      page.getByRole('button', { name: 'Save the schedule' }).click(),
    ]);
    assert.equal(await page.getByLabel('Tell the headteacher after (days)').inputValue(), '25');

    await page.getByLabel('Name', { exact: true }).fill('Christmas holidays');
    await page.getByLabel('First day', { exact: true }).fill('2026-12-21');
    await page.getByLabel('Last day', { exact: true }).fill('2027-01-01');
    await Promise.all([
      page.waitForURL(/saved=holidays/),
      page.getByRole('button', { name: 'Add the holiday' }).click(),
    ]);
    const rows = await page.locator('table tbody tr td:first-child').allInnerTexts();
    assert.deepEqual(rows.map((t) => t.trim()), ['Christmas holidays']);
    assert.match(await page.getByLabel('Holidays, one a line').inputValue(), /^2026-12-21,2027-01-01,Christmas holidays$/m);
    await check('the reminders page with a holiday');
    assertNoPageErrors(page);
  });
});
