// Debian's Chromium driven by playwright-core, plus the steps the tests share: logging in,
// finding what is on "My page", filling the sign form, and running axe.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** The AUP's title in the demo school (crates/cli/src/demo.rs). */
export const AUP_TITLE = 'ICT Acceptable Use Policy';

/** The title of the short AUP the demo school's visitors sign at the kiosk. */
export const VISITOR_AUP_TITLE = 'Visitor Acceptable Use Policy';

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

/**
 * A fresh browser context (its own cookies) with a page whose uncaught script errors and
 * Content-Security-Policy refusals are collected: `assertNoPageErrors(page)` checks them.
 * `contextOptions` are added to the context's (e.g. a tablet's `viewport` and `hasTouch`).
 */
export async function newPage(browser, baseURL, contextOptions = {}) {
  const context = await browser.newContext({
    baseURL,
    locale: 'en-GB',
    timezoneId: 'Europe/London',
    ...contextOptions,
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`uncaught error: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
      page.problems.push(`CSP: ${msg.text()}`);
    }
  });
  return page;
}

export function assertNoPageErrors(page) {
  assert.deepEqual(page.problems, [], 'the page had script errors or CSP refusals');
}

/** Logs in through the login form with the mouse and lands on /me. */
export async function login(page, account) {
  await page.goto('/login');
  await page.getByLabel('Email address', { exact: true }).fill(account.email);
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL('**/me');
  await assertHeading(page, account.name);
}

/**
 * Waits until the page's h1 reads `text` (a click that navigates returns before the new
 * page is there), failing with the heading found if it never does.
 */
export async function assertHeading(page, text, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let h1;
  for (;;) {
    h1 = await page
      .locator('h1')
      .innerText({ timeout: 1_000 })
      .then((t) => t.trim())
      .catch(() => undefined);
    if (h1 === text || Date.now() > deadline) break;
    await page.waitForTimeout(50);
  }
  assert.equal(h1, text, `the page heading at ${page.url()}`);
}

/** The titles of the cards under "To sign" on /me (the page must be open). */
export async function toSignTitles(page) {
  return page.locator('section[aria-labelledby="to-sign"] .card h3').allInnerTexts();
}

/** The rows under "Signed" on /me as `{ title, version, signed }`. */
export async function signedRows(page) {
  const rows = page.locator('section[aria-labelledby="signed"] tbody tr');
  const out = [];
  for (const row of await rows.all()) {
    const cells = await row.locator('td').allInnerTexts();
    out.push({ title: cells[0].trim(), version: cells[1].trim(), signed: cells[2].trim() });
  }
  return out;
}

/** The policy's card link under "To sign". */
export function toSignLink(page, title = AUP_TITLE) {
  return page
    .locator('section[aria-labelledby="to-sign"]')
    .getByRole('link', { name: new RegExp(`^${escapeRegExp(title)}, version \\d+$`) });
}

/** Ticks every "I have read …" box for the referenced documents of the sign page. */
export async function acknowledgeReferences(page) {
  const boxes = page.locator('#sign-form input[type=checkbox][name=ack]');
  for (const box of await boxes.all()) await box.check();
  return boxes.count();
}

/**
 * Fills the sign form with a typed signature. Each part can be left out or changed to
 * make the form wrong on purpose.
 */
export async function fillTypedSignature(page, { name, declaration = true, acknowledge = true, signature = name }) {
  if (acknowledge) await acknowledgeReferences(page);
  if (declaration) await page.locator('#declaration').check();
  await page.getByLabel('Your full name', { exact: true }).fill(name);
  await page.getByLabel('Type my signature', { exact: true }).check();
  await page.getByLabel('Type your signature', { exact: true }).fill(signature);
}

/**
 * Submits the sign form and waits for the page that answers it (the URL may stay the
 * same, so wait for the next load event rather than a URL).
 */
export async function submitSignature(page) {
  await Promise.all([page.waitForEvent('load'), page.locator('#sign-button').click()]);
}

/** The messages in the error summary, and the field each one links to. */
export async function errorSummary(page) {
  const links = page.locator('#error-summary li a');
  const out = [];
  for (const link of await links.all()) {
    out.push({ message: (await link.innerText()).trim(), href: await link.getAttribute('href') });
  }
  return out;
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page as served (its CSP stays on: the script is evaluated through
 * the DevTools protocol, not added as a <script>) and returns the violations.
 */
export async function axeViolations(page) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    // axe's default rule set: WCAG 2.0–2.2 A and AA plus its best practices.
    const results = await window.axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
}

export function describeViolations(violations) {
  return violations
    .map(
      (v) =>
        `- [${v.impact}] ${v.id}: ${v.help}\n` +
        v.nodes.map((n) => `    at ${n.target}\n      ${String(n.summary).replace(/\n/g, '\n      ')}`).join('\n'),
    )
    .join('\n');
}

/** Fails if axe finds a serious or critical violation; returns the rest for the log. */
export async function assertNoSeriousA11yViolations(page, what) {
  const violations = await axeViolations(page);
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.equal(
    bad.length,
    0,
    `axe found serious or critical violations on ${what} (${page.url()}):\n${describeViolations(bad)}`,
  );
  return violations;
}

export function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
