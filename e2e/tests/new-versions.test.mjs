// The headteacher publishes new versions of the AUP. A major version asks the member of
// staff who signed to sign again, showing what changed and a redline; a minor one asks
// nobody.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  assertHeading,
  assertNoPageErrors,
  fillTypedSignature,
  launchBrowser,
  login,
  newPage,
  signedRows,
  toSignLink,
  toSignTitles,
} from '../lib/browser.mjs';

const OLD_STATEMENT = 'I will respect copyright and intellectual property rights.';
const MAJOR_STATEMENT = 'I will respect copyright and the licences of software, images and music.';
const MAJOR_SUMMARY = 'The copyright statement now covers the licences of software, images and music.';
const MINOR_FROM = 'Online conduct should not be different to offline conduct.';
const MINOR_TO = 'Online conduct should be no different to offline conduct.';

/**
 * As the headteacher: Policies → the AUP → write a new version, change the text, say what
 * changed, choose the kind of change, save, publish. Returns the new version's number.
 */
async function publishNewVersion(page, { from, to, summary, kind }) {
  await page.goto('/me');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policies' }).click();
  await assertHeading(page, 'Policies');
  await page.getByRole('link', { name: AUP_TITLE, exact: true }).click();
  await assertHeading(page, AUP_TITLE);
  await page.getByRole('link', { name: 'Write a new version' }).click();
  await assertHeading(page, `New version of ${AUP_TITLE}`);

  const body = page.getByLabel('Policy text');
  const text = await body.inputValue();
  assert.ok(text.includes(from), `the new version starts from the current text, which has "${from}"`);
  await body.fill(text.replace(from, to));
  await page.getByLabel('What changed', { exact: true }).fill(summary);
  await page.locator(`#change_kind-${kind}`).check();
  await page.getByRole('button', { name: 'Save the draft and preview' }).click();

  // The preview of the draft.
  await page.waitForURL(/\/versions\/\d+$/);
  const heading = (await page.locator('h1').innerText()).trim();
  const m = /version (\d+)\s+draft$/.exec(heading);
  assert.ok(m, `a draft was saved: "${heading}"`);
  const number = Number(m[1]);
  assert.ok((await page.locator('.policy-text').innerText()).includes(to), 'the preview shows the new text');
  assert.ok((await page.locator('.redline ins').allInnerTexts()).length > 0, 'the preview shows a redline');

  // The confirmation says who will be asked before anything is published.
  await page.getByRole('button', { name: `Publish version ${number}` }).click();
  await page.waitForURL(/\/versions\/\d+\/publish\??$/);
  assert.match(await page.locator('#who-will-be-asked').innerText(), new RegExp(`Asked to sign version ${number}: `));
  await page.getByRole('button', { name: `Publish version ${number}` }).click();
  await page.waitForURL(/\/policies\/\d+\?published=\d+$/);
  const row = page.locator('tbody tr', { has: page.getByRole('link', { name: `Version ${number}`, exact: true }) });
  const cells = (await row.locator('td').allInnerTexts()).map((c) => c.trim());
  assert.equal(cells[1], 'published', `version ${number} is published: ${cells}`);
  assert.equal(cells[2], kind);
  assert.equal(cells[4], summary);
  return number;
}

async function signTyped(page, name) {
  await fillTypedSignature(page, { name });
  await Promise.all([page.waitForURL('**/me/signatures/*'), page.locator('#sign-button').click()]);
  assert.match(await page.getByRole('status').innerText(), /You signed this on/);
}

describe('new versions of a signed policy', () => {
  let server;
  let browser;
  let staffPage;
  let headPage;
  let staff;
  before(async () => {
    server = await startDemo();
    browser = await launchBrowser();
    staff = server.account('Staff', 0);
    staffPage = await newPage(browser, server.baseURL);
    headPage = await newPage(browser, server.baseURL);
    await login(headPage, server.account('Headteacher'));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a staff member signs version 1', async () => {
    await login(staffPage, staff);
    await toSignLink(staffPage).click();
    await assertHeading(staffPage, `${AUP_TITLE}, version 1`);
    // Nothing signed before: no "What changed" on a first signature.
    assert.equal(await staffPage.locator('#what-changed').count(), 0);
    await signTyped(staffPage, staff.name);
    await staffPage.goto('/me');
    assert.deepEqual(await toSignTitles(staffPage), []);
  });

  it('a major version asks the staff member to sign again, with what changed and a redline', async () => {
    const number = await publishNewVersion(headPage, {
      from: OLD_STATEMENT,
      to: MAJOR_STATEMENT,
      summary: MAJOR_SUMMARY,
      kind: 'major',
    });
    assert.equal(number, 2);

    await staffPage.goto('/me');
    assert.deepEqual(await toSignTitles(staffPage), [`${AUP_TITLE}, version 2`]);
    const card = staffPage.locator('section[aria-labelledby="to-sign"] .card');
    assert.match(await card.innerText(), /changes what you signed before/);

    await toSignLink(staffPage).click();
    await assertHeading(staffPage, `${AUP_TITLE}, version 2`);

    // "What changed" names the version signed and carries the headteacher's summary.
    const changes = staffPage.locator('section[aria-labelledby="what-changed"]');
    assert.equal(
      (await staffPage.locator('#what-changed').innerText()).trim(),
      'What changed since you signed version 1',
    );
    const items = (await changes.locator('li').allInnerTexts()).map((t) => t.trim());
    assert.deepEqual(items, [`Version 2 (major change): ${MAJOR_SUMMARY}`]);

    // The redline: the new words inserted, the old ones struck out, nothing else.
    const redline = staffPage.locator('#redline');
    const inserted = (await redline.locator('ins').allTextContents()).join(' ');
    const deleted = (await redline.locator('del').allTextContents()).join(' ');
    assert.match(inserted, /licences/);
    assert.match(inserted, /music/);
    assert.match(deleted, /intellectual/);
    assert.doesNotMatch(inserted + deleted, /Social Networking|facebook/i, 'only the changed statement is marked');
    // Screen readers are told which is which.
    assert.match(inserted, /added:/);
    assert.match(deleted, /removed:/);
    // The policy text itself is the new one.
    assert.ok((await staffPage.locator('article.policy-text').innerText()).includes(MAJOR_STATEMENT));

    await signTyped(staffPage, staff.name);
    await assertHeading(staffPage, `${AUP_TITLE}, version 2`);
    await staffPage.goto('/me');
    assert.deepEqual(await toSignTitles(staffPage), []);
    const versions = (await signedRows(staffPage)).map((r) => `${r.title} ${r.version}`).sort();
    assert.deepEqual(versions, [`${AUP_TITLE} 1`, `${AUP_TITLE} 2`]);
  });

  it('a minor version does not ask the staff member to sign again', async () => {
    const number = await publishNewVersion(headPage, {
      from: MINOR_FROM,
      to: MINOR_TO,
      summary: 'Wording of the social networking introduction tidied.',
      kind: 'minor',
    });
    assert.equal(number, 3);

    await staffPage.goto('/me');
    assert.deepEqual(await toSignTitles(staffPage), []);
    assert.match(
      await staffPage.locator('section[aria-labelledby="to-sign"]').innerText(),
      /You have nothing to sign/,
    );
    const versions = (await signedRows(staffPage)).map((r) => r.version).sort();
    assert.deepEqual(versions, ['1', '2']);
    assertNoPageErrors(staffPage);
    assertNoPageErrors(headPage);
  });

  it('the other staff member, who never signed, is asked to sign only the newest version', async () => {
    const page = await newPage(browser, server.baseURL);
    await login(page, server.account('Staff', 1));
    assert.deepEqual(await toSignTitles(page), [`${AUP_TITLE}, version 3`]);
  });
});
