#!/usr/bin/env node
// Runs the four services and restarts any that exits (the services are crash-only: on a fatal
// processing error they exit and rebuild their state from Postgres when started again).
// SIGTERM/SIGINT stop the children gracefully and then the supervisor.
'use strict';
const { spawn } = require('node:child_process');
const { createWriteStream, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const logs = join(root, '.run', 'logs');
mkdirSync(logs, { recursive: true });
const SERVICES = ['matching', 'clearing', 'risk', 'order-intake'];
const children = new Map();
let stopping = false;

function start(name, attempt = 0) {
  const out = createWriteStream(join(logs, `${name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, ['-r', join(root, 'scripts', 'register-paths.js'), join(root, 'dist', 'apps', name, 'src', 'main.js')], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  children.set(name, child);
  const startedAt = Date.now();
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) return;
    // Back off when a service keeps dying at start (bad config, database down).
    const next = Date.now() - startedAt > 30_000 ? 0 : attempt + 1;
    const delay = Math.min(30_000, 500 * 2 ** Math.min(next, 6));
    process.stderr.write(`supervisor: ${name} exited (${signal ?? code}); restarting in ${delay} ms\n`);
    setTimeout(() => start(name, next), delay);
  });
}

function stop() {
  if (stopping) return;
  stopping = true;
  for (const c of children.values()) c.kill('SIGTERM');
  const deadline = setTimeout(() => {
    for (const c of children.values()) c.kill('SIGKILL');
    process.exit(0);
  }, 10_000);
  const check = setInterval(() => {
    if (children.size === 0) {
      clearInterval(check);
      clearTimeout(deadline);
      process.exit(0);
    }
  }, 100);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
for (const s of SERVICES) start(s);
