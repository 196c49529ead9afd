// Starts `undersign demo` on a loopback port with a fresh data directory and database,
// waits until it answers /healthz, and reads the demo accounts it prints.
// The binary is built elsewhere (CI builds it first); this module never builds anything.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Servers still running when this process ends (a crash, a failed hook) are killed with it.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The password every demo account gets in the browser tests. */
export const DEMO_PASSWORD = 'correct horse battery staple';

/** The binary to run: UNDERSIGN_BIN, or the debug build of this checkout. */
export function undersignBin() {
  const bin = process.env.UNDERSIGN_BIN
    ? path.resolve(process.env.UNDERSIGN_BIN)
    : path.resolve(here, '..', '..', 'target', 'debug', 'undersign');
  if (!existsSync(bin)) {
    throw new Error(
      `no undersign binary at ${bin}: build it first (cargo build -p undersign-cli) or set UNDERSIGN_BIN`,
    );
  }
  return bin;
}

/**
 * One printed account line: role, name, email and password separated by runs of two or
 * more spaces (the banner pads its columns).
 */
const ACCOUNT_LINE = /^\s+(\S.*?)\s{2,}(\S.*?)\s{2,}(\S+@\S+)\s{2,}(\S.*?)\s*$/;

/** The accounts in the console banner of `undersign demo`. */
export function parseAccounts(banner) {
  const accounts = [];
  for (const line of banner.split('\n')) {
    const m = ACCOUNT_LINE.exec(line);
    if (m && m[3] !== 'email') {
      accounts.push({ role: m[1], name: m[2], email: m[3], password: m[4] });
    }
  }
  return accounts;
}

async function waitForHealth(baseURL, child, deadline) {
  let lastError;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`undersign demo exited with ${child.exitCode} before answering /healthz`);
    }
    try {
      const res = await fetch(new URL('/healthz', baseURL));
      if (res.ok) return;
      lastError = new Error(`/healthz answered ${res.status}`);
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`undersign demo did not answer /healthz in time: ${lastError}`);
}

/**
 * Starts a demo server of its own (with `smtp: 'HOST:PORT'`, delivering its mail there).
 * Resolves to
 * `{ baseURL, databaseURL, accounts, account(role, n), stop() }`; `stop` kills the server and removes
 * its data directory.
 */
export async function startDemo({ timeoutMs = 60_000, smtp } = {}) {
  const bin = undersignBin();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'undersign-e2e-'));
  const databaseURL = `sqlite://${path.join(dataDir, 'undersign.sqlite3')}`;
  const child = spawn(
    bin,
    [
      'demo',
      // Port 0: the kernel picks a free port and the banner prints the address it got,
      // so parallel servers never race for a port.
      '--listen', '127.0.0.1:0',
      '--database-url', databaseURL,
      '--data-dir', dataDir,
      '--demo-password', DEMO_PASSWORD,
      // A mail server (e.g. lib/smtp-sink.mjs) to deliver the outbox to.
      ...(smtp ? ['--smtp', smtp] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.E2E_SERVER_LOG) process.stderr.write(d);
  });

  const deadline = Date.now() + timeoutMs;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    // The banner ends with "Stop with ctrl-c."; by then every account has been printed.
    const banner = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no demo banner within ${timeoutMs} ms.\nstdout:\n${stdout}\nstderr:\n${stderr}`)),
        timeoutMs,
      );
      child.stdout.on('data', (d) => {
        stdout += d;
        if (/Stop with ctrl-c/i.test(stdout)) {
          clearTimeout(timer);
          resolve(stdout);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`undersign demo exited (${code ?? signal}).\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      });
    });
    const url = /https?:\/\/127\.0\.0\.1:\d+/.exec(banner);
    if (!url) throw new Error(`no server address in the demo banner:\n${banner}`);
    const baseURL = url[0];
    await waitForHealth(baseURL, child, deadline);

    const accounts = parseAccounts(banner);
    if (accounts.length === 0) throw new Error(`no accounts in the demo banner:\n${banner}`);
    for (const a of accounts) {
      if (a.password !== DEMO_PASSWORD) {
        throw new Error(`the demo printed password ${JSON.stringify(a.password)} for ${a.email}, not --demo-password`);
      }
    }
    return {
      baseURL,
      /** The demo's database, for `undersign` commands run beside the server. */
      databaseURL,
      accounts,
      /** The n-th (0-based) account whose role is `role`, e.g. account('Staff', 1). */
      account(role, n = 0) {
        const found = accounts.filter((a) => a.role.toLowerCase() === role.toLowerCase());
        if (!found[n]) {
          throw new Error(`the demo has no ${role} #${n + 1}; it printed: ${accounts.map((a) => a.role).join(', ')}`);
        }
        return found[n];
      },
      stop,
      serverLog: () => stderr,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
