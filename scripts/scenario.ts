/**
 * npm run scenario -- <file.jsonl>          run a scenario through the rulebook in this process
 * npm run scenario -- --live <file.jsonl>   feed it through the running services' API (see docs)
 *
 * Prints the SPEC §10 report as JSON on stdout.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runScenario } from '@ch/rulebook';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

async function main(argv: string[]): Promise<number> {
  const live = argv.includes('--live');
  const files = argv.filter((a) => !a.startsWith('--'));
  if (files.length !== 1) {
    process.stderr.write('usage: npm run scenario -- [--live] <file.jsonl>\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(files[0], 'utf8');
  } catch (e) {
    process.stderr.write(`cannot read ${files[0]}: ${(e as Error).message}\n`);
    return 2;
  }
  if (live) {
    const { runLiveScenario } = await import('./scenario-live');
    const report = await runLiveScenario(text, sha256);
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  }
  const { report } = runScenario(text, sha256);
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
