/**
 * The auditor's machinery is its own library (issue 12 item 7): the services' run loop
 * (@ch/runtime) and the services do not load it; only intake's /audit/* routes do.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const ALLOWED = new Set(['apps/order-intake/src/audit.controller.ts']);

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (p.endsWith('.ts') && !p.endsWith('.spec.ts')) yield p;
  }
}

function importers(dirs: string[]): string[] {
  const found: string[] = [];
  for (const d of dirs) {
    for (const f of sources(join(root, d))) {
      if (/from '@ch\/audit(\/[^']*)?'|require\('@ch\/audit/.test(readFileSync(f, 'utf8'))) found.push(relative(root, f));
    }
  }
  return found.sort();
}

describe('@ch/audit stays out of the services', () => {
  it('only intake’s audit controller imports it; libs/runtime never does', () => {
    const apps = readdirSync(join(root, 'apps')).map((a) => `apps/${a}/src`);
    expect(importers([...apps, 'libs/runtime/src']).filter((f) => !ALLOWED.has(f))).toEqual([]);
  });

  it('libs/runtime holds no log reader or replay', () => {
    expect(readdirSync(join(root, 'libs/runtime/src')).filter((f) => /^(log-|audit|anchor-check)/.test(f))).toEqual([]);
  });
});
