/**
 * npm run scenario -- <file.jsonl>          run a scenario through the rulebook in this process
 * npm run scenario -- --live <file.jsonl>   feed it through the running services' API, which must
 *                                           run with CH_ALLOW_EVENT_TIME=1 on a fresh system
 *                                           (scripts/scenario-live.ts; docs/operations.md)
 *   [--allow-used-system]                   with --live: run on a system whose log is not empty
 *
 * Prints the SPEC §10 report as JSON on stdout; with --live, progress and warnings on stderr.
 * Exit 0 with a report (its errors list what was refused), 2 on bad usage, 1 when the live services
 * cannot run the scenario.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runScenario } from '@ch/rulebook';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

async function main(argv: string[]): Promise<number> {
  const live = argv.includes('--live');
  const allowUsedSystem = argv.includes('--allow-used-system');
  const files = argv.filter((a) => !a.startsWith('--'));
  const unknown = argv.filter((a) => a.startsWith('--') && a !== '--live' && a !== '--allow-used-system');
  if (files.length !== 1 || unknown.length || (allowUsedSystem && !live)) {
    process.stderr.write('usage: npm run scenario -- [--live [--allow-used-system]] <file.jsonl>\n');
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
    const { runLiveScenario, LiveScenarioError } = await import('./scenario-live');
    try {
      const { report } = await runLiveScenario(text, { allowUsedSystem, log: (m) => process.stderr.write(`${m}\n`) });
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return 0;
    } catch (e) {
      if (!(e instanceof LiveScenarioError)) throw e;
      process.stderr.write(`scenario --live: ${e.message}\n`);
      return 1;
    }
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
