// Signing with the keyboard alone: Tab to move, Space to tick and press, typing to fill
// in, Enter only to follow a link or send the login form. No mouse event is sent.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo } from '../lib/demo-server.mjs';
import {
  AUP_TITLE,
  assertHeading,
  assertNoPageErrors,
  launchBrowser,
  newPage,
  signedRows,
  toSignTitles,
} from '../lib/browser.mjs';

/** What has the keyboard focus: tag, id, type, name, checked and the visible text or label. */
async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const label = el.labels && el.labels[0] ? el.labels[0].innerText.trim() : '';
    const style = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id,
      type: el.getAttribute('type') ?? '',
      name: el.getAttribute('name') ?? '',
      checked: !!el.checked,
      text: (el.innerText || label || '').trim(),
      outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    };
  });
}

/**
 * Presses Tab until `want(focused)` holds. Fails, listing where the focus went, if it takes
 * more than `max` presses: the element cannot be reached, or the focus is trapped.
 */
async function tabTo(page, description, want, max = 60) {
  const path = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f && want(f)) {
      assert.ok(f.outline, `${description} shows where the keyboard focus is (a visible outline)`);
      return f;
    }
    path.push(f ? `${f.tag}#${f.id}[${f.name}] "${f.text.slice(0, 40)}"` : '(body)');
  }
  assert.fail(`Tab never reached ${description}; the focus went:\n  ${path.join('\n  ')}`);
}

describe('signing with the keyboard only', () => {
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

  it('a staff member logs in, signs the AUP with a typed signature and finds it under Signed, by keyboard alone', async () => {
    const staff = server.account('Staff', 1);
    const page = await newPage(browser, server.baseURL);
    await page.goto('/login');

    // Log in.
    await tabTo(page, 'the email field', (f) => f.id === 'email');
    await page.keyboard.type(staff.email);
    await tabTo(page, 'the password field', (f) => f.id === 'password');
    await page.keyboard.type(staff.password);
    await Promise.all([page.waitForURL('**/me'), page.keyboard.press('Enter')]);
    await assertHeading(page, staff.name);

    // The skip link is the first stop and takes the focus to the main content.
    await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.text, 'Skip to main content');

    // Open the AUP from "To sign".
    await tabTo(page, 'the AUP under To sign', (f) => f.tag === 'a' && f.text === `${AUP_TITLE}, version 1`);
    await Promise.all([page.waitForURL('**/sign/*'), page.keyboard.press('Enter')]);
    await assertHeading(page, `${AUP_TITLE}, version 1`);

    // Acknowledge each referenced document (Space ticks a checkbox).
    const acks = await page.locator('#sign-form input[name=ack]').count();
    assert.ok(acks >= 1, 'the demo AUP refers to a document');
    for (let i = 0; i < acks; i++) {
      await tabTo(page, `referenced document box ${i + 1}`, (f) => f.name === 'ack' && !f.checked);
      await page.keyboard.press('Space');
      assert.equal((await focused(page)).checked, true, 'Space ticked the box');
    }

    await tabTo(page, 'the declaration', (f) => f.id === 'declaration');
    await page.keyboard.press('Space');
    assert.equal(await page.locator('#declaration').isChecked(), true);

    await tabTo(page, 'the full name field', (f) => f.id === 'typed_name');
    await page.keyboard.type(staff.name);

    // The typed signature is the choice already made; the radio group is one Tab stop
    // and the text field follows it.
    const radio = await tabTo(page, 'the signature choice', (f) => f.name === 'signature_kind');
    assert.equal(radio.id, 'signature_kind-typed', 'typing the signature is the first choice');

    // Trying the drawing canvas by keyboard: the arrow key switches to it, and Tab goes
    // through the canvas and on to its button, so the canvas is no keyboard trap.
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.locator('#signature_kind-drawn').isChecked(), true);
    assert.equal(await page.locator('#signature-canvas').isVisible(), true);
    await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.id, 'signature-canvas');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.id, 'clear-signature', 'Tab leaves the canvas');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal((await focused(page))?.id, 'signature_kind-drawn');
    await page.keyboard.press('ArrowUp');
    assert.equal(await page.locator('#signature_kind-typed').isChecked(), true);
    assert.equal(await page.locator('#signature-canvas').isVisible(), false);
    await tabTo(page, 'the typed signature field', (f) => f.id === 'typed_signature');
    await page.keyboard.type(staff.name);

    await tabTo(page, 'the Sign button', (f) => f.id === 'sign-button');
    await Promise.all([page.waitForURL('**/me/signatures/*'), page.keyboard.press('Space')]);
    assert.match(await page.getByRole('status').innerText(), /You signed this on/);
    assert.match(await page.locator('dl.evidence').innerText(), new RegExp(`${staff.name}\\s*\\(typed\\)`));

    // Back to my page, by keyboard.
    await tabTo(page, 'Back to my page', (f) => f.tag === 'a' && f.text === 'Back to my page');
    await Promise.all([page.waitForURL('**/me'), page.keyboard.press('Enter')]);
    assert.deepEqual(await toSignTitles(page), []);
    const signed = await signedRows(page);
    assert.deepEqual(
      signed.map((r) => [r.title, r.version]),
      [[AUP_TITLE, '1']],
    );
    assertNoPageErrors(page);
  });
});
