// A person's Internet log disclosed as the AUP allows: the line manager asks, with a
// reason; the headteacher approves; the line manager reads the log (the look recorded);
// and the member of staff sees on their own page who asked, who decided and the look.
// The log comes from a Squid access log file loaded with `undersign logs ingest`.
// Every page on the way is axe clean.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDemo, undersignBin } from '../lib/demo-server.mjs';
import {
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  launchBrowser,
  login,
  newPage,
} from '../lib/browser.mjs';

/** A native Squid log line, `secondsAgo` before now, by proxy user `user`. */
function squidLine(secondsAgo, user, result, url) {
  const t = (Date.now() / 1000 - secondsAgo).toFixed(3);
  return `${t}     12 10.0.0.7 ${result} 1500 GET ${url} ${user} HIER_DIRECT/192.0.2.1 text/html\n`;
}

describe('disclosure of a member of staff’s Internet log', () => {
  let server;
  let browser;
  let dir;
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    dir = mkdtempSync(path.join(tmpdir(), 'undersign-e2e-log-'));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('goes from the line manager’s request to the person’s own page', async () => {
    const manager = server.account('Line manager');
    const head = server.account('Headteacher');
    const staff = server.account('Staff', 0);

    const log = path.join(dir, 'access.log');
    writeFileSync(
      log,
      squidLine(120, staff.email, 'TCP_MISS/200', 'http://www.bbc.co.uk/news') +
        squidLine(90, staff.email, 'TCP_DENIED/403', 'http://www.facebook.com/') +
        squidLine(60, '-', 'TCP_MISS/200', 'http://www.example.org/'),
    );
    execFileSync(undersignBin(), ['logs', 'ingest', '--quiet', '--database-url', server.databaseURL, log], {
      stdio: 'pipe',
    });

    const today = new Date().toISOString().slice(0, 10);
    const asker = await newPage(browser, server.baseURL);
    await login(asker, manager);
    await asker.goto('/me');
    await asker.getByRole('link', { name: 'ask for their log here' }).click();
    await asker.getByRole('heading', { name: 'Internet log disclosures' }).waitFor();
    await assertNoSeriousA11yViolations(asker, 'the disclosures page');
    // A request without a reason is refused, naming the field.
    await asker.getByLabel('Whose log').selectOption({ label: staff.name });
    await asker.getByLabel('First day').fill(today);
    await asker.getByLabel('Last day').fill(today);
    await asker.getByRole('button', { name: 'Ask for approval' }).click();
    await asker.locator('#error-summary').waitFor();
    await assertNoSeriousA11yViolations(asker, 'the request form with an error');
    await asker.getByLabel('Why it is needed').fill('A parent reported posts made during lessons');
    await asker.getByRole('button', { name: 'Ask for approval' }).click();
    await asker.getByRole('heading', { name: new RegExp(`Disclosure D-\\d+: ${staff.name}`) }).waitFor();
    assert.equal(await asker.getByRole('button', { name: /Read the log/ }).count(), 0, 'nothing to read before a decision');
    const reference = /D-\d+/.exec(await asker.getByRole('heading', { level: 1 }).textContent())[0];
    await assertNoSeriousA11yViolations(asker, 'a requested disclosure');

    const decider = await newPage(browser, server.baseURL);
    await login(decider, head);
    await decider.getByRole('link', { name: 'Log disclosures' }).click();
    await decider.getByRole('link', { name: reference }).click();
    await assertNoSeriousA11yViolations(decider, 'the decision form');
    await decider.getByLabel('Approve: the requester may read the log').check();
    await decider.getByLabel('Note on the decision').fill('Proportionate: one day, one concern');
    await decider.getByRole('button', { name: 'Record the decision' }).click();
    await decider.getByText('Can be read until').waitFor();
    assert.equal(await decider.getByRole('button', { name: /Read the log/ }).count(), 0, 'the head who approved cannot read it');
    assertNoPageErrors(decider);

    await asker.reload();
    await asker.getByRole('button', { name: /Read the log/ }).click();
    await asker.getByRole('heading', { name: new RegExp(`${staff.name}: Internet log`) }).waitFor();
    await asker.getByText('http://www.facebook.com/').waitFor();
    const sites = await asker.locator('table').nth(1).textContent();
    assert.match(sites, /www\.bbc\.co\.uk/);
    assert.doesNotMatch(sites, /example\.org/, 'another person’s request is not in this log');
    await assertNoSeriousA11yViolations(asker, 'the disclosed log');
    assertNoPageErrors(asker);

    const person = await newPage(browser, server.baseURL);
    await login(person, staff);
    await person.goto('/me');
    const mine = person.locator('section[aria-labelledby="my-log"]');
    await mine.getByText(`${reference}: asked by ${manager.name}`).waitFor();
    assert.match(await mine.textContent(), new RegExp(`Approved by ${head.name}`));
    assert.equal(await mine.locator('li li').count(), 1, 'the one look is listed');
    assert.match(await mine.locator('li li').first().textContent(), new RegExp(manager.name));
    await assertNoSeriousA11yViolations(person, 'the person’s own page');
    assertNoPageErrors(person);
  });

  it('shows the network manager counts without names, and the head the log settings', async () => {
    const networkManager = server.account('Network manager');
    const staff = server.account('Staff', 0);
    const nm = await newPage(browser, server.baseURL);
    await login(nm, networkManager);
    await nm.getByRole('link', { name: 'Internet use' }).click();
    await nm.getByRole('heading', { name: 'Internet use reports' }).waitFor();
    const text = await nm.locator('main').textContent();
    assert.match(text, /www\.facebook\.com/, 'the blocked site is counted');
    assert.doesNotMatch(text, new RegExp(staff.name), 'nobody is named');
    assert.doesNotMatch(text, new RegExp(staff.email.replace('.', '\\.')), 'no address names anyone');
    await assertNoSeriousA11yViolations(nm, 'the Internet use reports');
    assertNoPageErrors(nm);

    const head = await newPage(browser, server.baseURL);
    await login(head, server.account('Headteacher'));
    await head.getByRole('link', { name: 'Log settings' }).click();
    await head.getByRole('heading', { name: 'Internet log settings' }).waitFor();
    await assertNoSeriousA11yViolations(head, 'the log settings');
    await head.getByLabel('Keep blocked attempts for (days)').fill('30');
    await head.getByRole('button', { name: 'Save the settings' }).click();
    await head.locator('#error-summary').waitFor();
    await assertNoSeriousA11yViolations(head, 'the log settings with an error');
    await head.getByLabel('Keep blocked attempts for (days)').fill('365');
    await head.getByLabel('Keep what people search for on the main search engines').check();
    await head.getByRole('button', { name: 'Save the settings' }).click();
    // Saved: the page comes back from the redirect without the error.
    await head.locator('#error-summary').waitFor({ state: 'detached' });
    assert.ok(await head.getByLabel('Keep what people search for on the main search engines').isChecked());
    assertNoPageErrors(head);
  });
});
