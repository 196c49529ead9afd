// Image consent, as the policy asks: a member of staff asks to post a class photo to the
// website; the check finds one pupil without consent; the headteacher declines; a parent
// withdraws consent through the link emailed to them, and the publisher of an earlier photo
// gets a take-down task. The pupils come from an MIS file loaded with
// `undersign import pupils`. Every page on the way is axe clean.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startDemo, undersignBin } from '../lib/demo-server.mjs';
import { startSmtpSink } from '../lib/smtp-sink.mjs';
import {
  assertNoPageErrors,
  assertNoSeriousA11yViolations,
  launchBrowser,
  login,
  newPage,
} from '../lib/browser.mjs';

describe('image consent before photos leave the school', () => {
  let server;
  let sink;
  let browser;
  let dir;
  before(async () => {
    sink = await startSmtpSink();
    server = await startDemo({ smtp: `127.0.0.1:${sink.port}` });
    browser = await launchBrowser();
    dir = mkdtempSync(path.join(tmpdir(), 'undersign-e2e-consent-'));
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    await sink?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('checks consent, asks the head, and turns a withdrawal into a take-down task', async () => {
    const file = path.join(dir, 'pupils.csv');
    writeFileSync(
      file,
      'UPN,Forename,Surname,Year,Class,Contact 1 Name,Contact 1 Email\n' +
        'A100,Amira,Khan,4,4K,Sara Khan,sara.khan@home.example\n' +
        'B200,Ben,Jones,4,4K,Tom Jones,tom.jones@home.example\n',
    );
    execFileSync(undersignBin(), ['import', 'pupils', '--database-url', server.databaseURL, file], { stdio: 'pipe' });

    // The office enters Amira's paper form: consent for the website.
    const office = await newPage(browser, server.baseURL);
    await login(office, server.account('School administrator'));
    await office.getByRole('link', { name: 'Image consent' }).click();
    await office.getByRole('heading', { name: 'Image consent', level: 1 }).waitFor();
    await assertNoSeriousA11yViolations(office, 'the consent register');
    await office.locator('#pupil').selectOption({ label: 'Amira Khan (4K)' });
    await office.locator('#channel').selectOption({ label: 'the school website' });
    await office.getByLabel('Given', { exact: true }).check();
    await office.getByRole('button', { name: 'Record', exact: true }).click();
    await office.getByRole('heading', { name: 'Image consent', level: 1 }).waitFor();

    // An earlier photo of Amira alone is checked and published.
    const staff = server.account('Staff', 0);
    const teacher = await newPage(browser, server.baseURL);
    await login(teacher, staff);
    await teacher.getByRole('link', { name: 'Publish images' }).click();
    await teacher.getByRole('heading', { name: 'Check before publishing images' }).waitFor();
    await assertNoSeriousA11yViolations(teacher, 'the publication check form');
    await teacher.getByLabel('Where will they go?').selectOption({ label: 'the school website' });
    await teacher.getByLabel('What do they show?').fill('Amira’s poem');
    await teacher.getByLabel(/^Amira Khan/).check();
    await teacher.getByRole('button', { name: 'Check consent' }).click();
    await teacher.getByText('Everyone has consent').waitFor();
    await teacher.getByRole('button', { name: 'They are published' }).click();
    await teacher.getByText('Published').first().waitFor();
    await assertNoSeriousA11yViolations(teacher, 'a published check');

    // The class photo: Ben has no consent on file.
    await teacher.goto('/publish');
    await teacher.getByLabel('Where will they go?').selectOption({ label: 'the school website' });
    await teacher.getByLabel('What do they show?').fill('Class 4K photo');
    await teacher.getByLabel(/^Amira Khan/).check();
    await teacher.getByLabel(/^Ben Jones/).check();
    await teacher.getByRole('button', { name: 'Check consent' }).click();
    await teacher.getByText('the headteacher’s permission is needed').or(teacher.getByText("the headteacher's permission is needed")).waitFor();
    const answers = await teacher.locator('tbody td').allTextContents();
    assert.deepEqual(answers, ['consent', 'none']);
    await assertNoSeriousA11yViolations(teacher, 'a check that needs permission');

    // The teacher asks the head, who declines.
    await teacher.getByRole('link', { name: 'ask the headteacher’s permission to post photos' }).or(
      teacher.getByRole('link', { name: "ask the headteacher's permission to post photos" }),
    ).click();
    await assertNoSeriousA11yViolations(teacher, 'the photo-posting request form');
    await teacher.getByLabel('What do the photos or videos show?').fill('Class 4K photo');
    await teacher.getByLabel('Where will they be posted?').fill('The school website, class pages');
    await teacher.getByRole('button', { name: 'Send the request' }).click();
    const heading = await teacher.getByRole('heading', { level: 1 }).textContent();
    const reference = /R-\d+/.exec(heading)[0];
    await assertNoSeriousA11yViolations(teacher, 'a submitted request');

    const head = await newPage(browser, server.baseURL);
    await login(head, server.account('Headteacher'));
    await head.getByRole('link', { name: 'Requests' }).click();
    await assertNoSeriousA11yViolations(head, 'the requests page with a queue');
    await head.getByRole('link', { name: reference }).click();
    await assertNoSeriousA11yViolations(head, 'the decision form');
    await head.getByLabel('Decline').check();
    await head.getByLabel('Note, or your question').fill('Not without consent for every child in the photo');
    await head.getByRole('button', { name: 'Record the decision' }).click();
    await head.getByText('declined').first().waitFor();
    assertNoPageErrors(head);

    await teacher.reload();
    await teacher.getByText('declined').first().waitFor();

    // Amira's mother withdraws consent for the website through her link.
    await office.locator('#links-pupil').selectOption({ label: 'Amira Khan (4K)' });
    await office.getByRole('button', { name: 'Send the links' }).click();
    const mail = await sink.waitFor((m) => m.to.includes('sara.khan@home.example'));
    assert.doesNotMatch(mail.text, /Amira/, 'the email names no child');
    const link = /https?:\/\/\S+\/consent\/link\/\S+/.exec(mail.text)?.[0];
    assert.ok(link, `no consent link in:\n${mail.text}`);
    const parent = await newPage(browser, server.baseURL);
    await parent.goto(new URL(link).pathname);
    await parent.getByRole('heading', { name: 'Amira Khan' }).waitFor();
    assert.equal(await parent.getByRole('heading', { name: 'Ben Jones' }).count(), 0, 'only her own child');
    await assertNoSeriousA11yViolations(parent, 'the parent’s consent page');
    await parent
      .getByRole('group', { name: /the school website/ })
      .getByLabel('I do not consent')
      .check();
    await parent.getByRole('button', { name: 'Send my answers' }).click();
    await parent.getByRole('heading', { name: 'Thank you' }).waitFor();
    await assertNoSeriousA11yViolations(parent, 'the parent’s thank-you page');
    await parent.goto(new URL(link).pathname);
    await parent.getByRole('heading', { name: 'This link no longer works' }).waitFor();

    // The teacher who published the earlier photo has a take-down task.
    await teacher.goto('/takedowns');
    await teacher.getByText('Amira’s poem').waitFor();
    await assertNoSeriousA11yViolations(teacher, 'the take-down tasks');
    await teacher.getByLabel('What you did (optional)').fill('Removed from the website');
    await teacher.getByRole('button', { name: 'Taken down' }).click();
    await teacher.getByText(/Taken down .*Removed from the website/).waitFor();
    assertNoPageErrors(teacher);
    assertNoPageErrors(parent);
    assertNoPageErrors(office);
  });
});
