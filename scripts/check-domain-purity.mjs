#!/usr/bin/env node
// The domain libraries are the functional core: no I/O, no clock, no randomness, no framework.
// This check fails the build when one of them imports a framework or I/O module, or reads the
// clock or a random source. It reads source text, so it is fast and has no dependencies.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PURE_LIBS = ['libs/domain/src', 'libs/matching/src', 'libs/rulebook/src', 'libs/messages/src/wire'];
const FORBIDDEN_IMPORTS = [
  /^@nestjs\//,
  /^kafkajs$/,
  /^typeorm/,
  /^pg$/,
  /^node:/,
  /^(fs|net|http|https|child_process|os|dgram|worker_threads|crypto)$/,
  /^@ch\/(kafka|persistence|platform)/,
  /^@ch\/messages(\/(topics|envelope|index))?$/,
];
const FORBIDDEN_CODE = [
  [/\bDate\.now\s*\(/, 'reads the wall clock (Date.now)'],
  [/\bnew Date\s*\(\s*\)/, 'reads the wall clock (new Date())'],
  [/\bMath\.random\s*\(/, 'uses randomness (Math.random)'],
  [/\bperformance\.now\s*\(/, 'reads a clock (performance.now)'],
  [/\bprocess\.(env|hrtime)/, 'reads the process environment or clock'],
];

function* files(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts') && !p.endsWith('.spec.ts')) yield p;
  }
}

const problems = [];
for (const lib of PURE_LIBS) {
  for (const file of files(join(root, lib))) {
    const text = readFileSync(file, 'utf8');
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
    for (const m of code.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (FORBIDDEN_IMPORTS.some((re) => re.test(spec))) problems.push(`${relative(root, file)}: imports '${spec}'`);
    }
    for (const [re, what] of FORBIDDEN_CODE) if (re.test(code)) problems.push(`${relative(root, file)}: ${what}`);
  }
}
if (problems.length) {
  console.error('Domain purity check failed:\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log(`Domain purity check passed (${PURE_LIBS.join(', ')}).`);
