// A member of staff signs the AUP with the mouse: reads the referenced document, ticks
// the declaration, types their name, draws a signature on the canvas, and finds it under
// "Signed" on their page.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  assertHeading,
  assertNoPageErrors,
  launchBrowser,
  login,
  newPage,
  signedRows,
  toSignLink,
  toSignTitles,
} from '../lib/browser.mjs';

describe('signing with a drawn signature', () => {
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

  it('a staff member draws their signature, signs the AUP and finds it under Signed', async () => {
    const staff = server.account('Staff', 0);
    const page = await newPage(browser, server.baseURL);
    await login(page, staff);

    // "To sign" lists the AUP; nothing is signed yet.
    assert.deepEqual(await toSignTitles(page), [`${AUP_TITLE}, version 1`]);
    assert.deepEqual(await signedRows(page), []);
    await toSignLink(page).click();
    await page.waitForURL('**/sign/*');
    await assertHeading(page, `${AUP_TITLE}, version 1`);
    const signURL = page.url();

    // The referenced document opens on its own page and leads back to the policy.
    const refs = page.locator('#sign-form input[name=ack]');
    assert.equal(await refs.count(), 1, 'the demo AUP refers to one document');
    const refLink = page.locator('#sign-form fieldset').first().getByRole('link');
    const refTitle = (await refLink.innerText()).trim();
    assert.match(refTitle, /Social Media Policy/);
    await refLink.click();
    await assertHeading(page, refTitle);
    assert.match(await page.locator('.reference-text').innerText(), /friend or follow requests/);
    await page.getByRole('link', { name: 'Back to the policy' }).click();
    await page.waitForURL(signURL);
    await assertHeading(page, `${AUP_TITLE}, version 1`);

    // Acknowledge, declare, type the name.
    await page.getByLabel(`I have read ${refTitle}`).check();
    await page.locator('#declaration').check();
    await page.getByLabel('Your full name', { exact: true }).fill(staff.name);

    // Choose to draw: the canvas appears and the typed field goes.
    const drawOption = page.getByLabel('Draw my signature', { exact: true });
    await drawOption.check();
    const canvas = page.locator('#signature-canvas');
    await canvas.waitFor({ state: 'visible' });
    assert.equal(await page.locator('#typed_signature').isVisible(), false);

    // Drag across the canvas: a stroke like a signature, made of many small moves.
    // The mouse reaches only what is on screen: bring the whole canvas into view.
    await canvas.evaluate((c) => c.scrollIntoView({ block: 'center' }));
    const box = await canvas.boundingBox();
    assert.ok(box && box.width > 100 && box.height > 30, `the canvas is big enough to draw on: ${JSON.stringify(box)}`);
    const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
    await page.mouse.move(...at(0.1, 0.6));
    await page.mouse.down();
    for (const [fx, fy] of [[0.2, 0.3], [0.3, 0.7], [0.45, 0.35], [0.6, 0.65], [0.75, 0.3], [0.9, 0.55]]) {
      await page.mouse.move(...at(fx, fy), { steps: 8 });
    }
    await page.mouse.up();
    const inked = await canvas.evaluate((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
    assert.ok(inked > 200, `dragging drew on the canvas (${inked} inked pixels)`);

    await Promise.all([page.waitForURL('**/me/signatures/*'), page.locator('#sign-button').click()]);

    // The signature page shows the evidence, with the drawn mark as an image.
    await assertHeading(page, `${AUP_TITLE}, version 1`);
    assert.match(await page.getByRole('status').innerText(), /You signed this on/);
    const evidence = page.locator('dl.evidence');
    const dd = (term) => evidence.locator(`dt:text-is("${term}") + dd`);
    assert.equal((await dd('Name typed').innerText()).trim(), staff.name);
    assert.equal((await dd('Documents acknowledged').innerText()).trim(), refTitle);
    const mark = dd('Signature').getByRole('img', { name: 'Your drawn signature' });
    await mark.waitFor();
    const loaded = await mark.evaluate((img) =>
      img.complete ? img.naturalWidth : new Promise((r) => img.addEventListener('load', () => r(img.naturalWidth))),
    );
    assert.ok(loaded > 0, 'the drawn signature image loads');
    assert.equal(await dd('Logged in by').count(), 0, 'the page does not say how they logged in');

    // My page: under Signed, no longer under To sign.
    await page.getByRole('link', { name: 'Back to my page' }).click();
    await page.waitForURL('**/me');
    assert.deepEqual(await toSignTitles(page), []);
    assert.match(await page.locator('section[aria-labelledby="to-sign"]').innerText(), /You have nothing to sign/);
    const signed = await signedRows(page);
    assert.equal(signed.length, 1);
    assert.equal(signed[0].title, AUP_TITLE);
    assert.equal(signed[0].version, '1');

    // The row leads back to the same signature.
    await page.locator('section[aria-labelledby="signed"]').getByRole('link', { name: AUP_TITLE, exact: true }).click();
    await page.waitForURL('**/me/signatures/*');
    await dd('Signature').getByRole('img', { name: 'Your drawn signature' }).waitFor();

    assertNoPageErrors(page);
  });

  it('the other member of staff still has the AUP to sign', async () => {
    const page = await newPage(browser, server.baseURL);
    await login(page, server.account('Staff', 1));
    assert.deepEqual(await toSignTitles(page), [`${AUP_TITLE}, version 1`]);
    assert.deepEqual(await signedRows(page), []);
  });
});
