// What a school notices first, walked through as the headteacher and the school
// administrator: the redline of a new version, the confirmation before publishing, the
// compliance figures on the first day, the error page, and the draft's Remove button.
// axe runs on every page visited.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  assertHeading,
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  launchBrowser,
  login,
  newPage,
} from '../lib/browser.mjs';

const FROM = 'I will respect copyright and intellectual property rights.';
const TO = 'I will respect copyright and the intellectual property rights of others.';

describe('what a school notices', () => {
  let server;
  let browser;
  let page;
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    page = await newPage(browser, server.baseURL);
    await login(page, server.account('Headteacher'));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the redline of a new version shows numbered statements, no markup and no phantom change', async () => {
    await page.goto('/policies');
    await page.getByRole('link', { name: AUP_TITLE, exact: true }).click();
    await page.getByRole('link', { name: 'Write a new version' }).click();
    await assertHeading(page, `New version of ${AUP_TITLE}`);
    const body = page.getByLabel('Policy text');
    const text = await body.inputValue();
    await body.fill(text.replace(FROM, TO));
    await page.getByLabel('What changed', { exact: true }).fill('Copyright covers the rights of others.');
    await page.getByRole('button', { name: 'Save the draft and preview' }).click();
    await page.waitForURL(/\/versions\/\d+$/);

    const region = page.getByRole('region', { name: 'Changes since version 1' });
    await region.waitFor();
    const labels = (await region.locator('.redline-label').allInnerTexts()).map((t) => t.trim());
    const changed = labels.filter((l) => !/^Statement \d+( \(was \d+\))?$/.test(l));
    assert.deepEqual(changed, ['Statement 15, changed'], `only the reworded statement is marked: ${labels}`);
    assert.equal(labels.length, 3, `one neighbour either side: ${labels}`);
    const shown = await region.locator('.redline').innerText();
    assert.doesNotMatch(shown, /##|\*\*/, 'no markdown markup');
    assert.match(await region.locator('.redline-skipped').first().innerText(), /Unchanged and not shown: statements 1 to 13/);
    await assertNoSeriousA11yViolations(page, 'the draft with its redline');
  });

  it("the draft's Remove button can be seen", async () => {
    const remove = page.getByRole('button', { name: /^Remove/ }).first();
    await remove.waitFor();
    const { color, background } = await remove.evaluate((el) => {
      let bg = 'rgba(0, 0, 0, 0)';
      for (let n = el; n && bg === 'rgba(0, 0, 0, 0)'; n = n.parentElement) bg = getComputedStyle(n).backgroundColor;
      return { color: getComputedStyle(el).color, background: bg };
    });
    assert.notEqual(color, background, 'the text is not the colour of what is behind it');
    assert.notEqual(color, 'rgb(255, 255, 255)');
  });

  it('publishing says who will be asked, then who was, and the old version is superseded', async () => {
    await page.getByRole('button', { name: 'Publish version 2' }).click();
    await page.waitForURL(/\/versions\/\d+\/publish\??$/);
    const who = await page.locator('#who-will-be-asked').innerText();
    assert.match(who, /Asked to sign version 2: \d+ people \(\d+ staff and 1 governor\)\./);
    await assertNoSeriousA11yViolations(page, 'the confirmation before publishing');

    await page.getByRole('button', { name: 'Publish version 2' }).click();
    await page.waitForURL(/\/policies\/\d+\?published=2$/);
    assert.match(await page.getByRole('status').innerText(), /Version 2 is published\. Asked to sign it: \d+ people/);
    const status = async (n) =>
      (await page
        .locator('tbody tr', { has: page.getByRole('link', { name: `Version ${n}`, exact: true }) })
        .locator('td')
        .nth(1)
        .innerText()).trim();
    assert.equal(await status(2), 'published');
    assert.equal(await status(1), 'superseded');
    await assertNoSeriousA11yViolations(page, 'the policy page after publishing');
  });

  it('compliance rounds its shares and says what a one-day chart shows', async () => {
    await page.goto('/compliance');
    const lead = await page.locator('p.lead').innerText();
    const m = /(\d+) of (\d+) people \((\d+)%\)/.exec(lead);
    assert.ok(m, lead);
    assert.equal(Number(m[3]), Math.round((100 * Number(m[1])) / Number(m[2])) || 0, lead);
    assert.match(await page.locator('figure.chart figcaption').innerText(), /the first day/);
    assert.equal(await page.locator('figure.chart svg circle.dot').count(), 1);
    const groups = await page.locator('table tbody th[scope=row]').allInnerTexts();
    const rows = await page.locator('table tbody tr:has(th[scope=row])').allInnerTexts();
    const same = rows.filter((r, i) => rows.some((o, j) => j !== i && o.replace(/^\S+: /, '') === r.replace(/^\S+: /, '')));
    assert.deepEqual(same, [], `no group listed twice: ${groups}`);
    await assertNoSeriousA11yViolations(page, 'the compliance dashboard');
    assertNoPageErrors(page);
  });

  it('the error page keeps the navigation and never sends the administrator to themselves', async () => {
    const admin = server.accounts.find((a) => /school administrator/i.test(a.role));
    assert.ok(admin, 'the demo has a school administrator');
    const adminPage = await newPage(browser, server.baseURL);
    await login(adminPage, admin);
    const reply = await adminPage.goto('/policies');
    assert.equal(reply.status(), 403);
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'People' }).waitFor();
    const lead = (await adminPage.locator('p.lead').innerText()).trim();
    assert.match(lead, /^[A-Z]/);
    assert.doesNotMatch(await adminPage.locator('main').innerText(), /ask your school administrator/i);
    await assertNoSeriousA11yViolations(adminPage, 'the error page');
  });
});
