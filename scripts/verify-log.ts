/**
 * Verifies the event log's hash chain (SPEC §9): `npm run log:verify [-- --from <seq>] [--batch-size <n>]`.
 * Connects to DATABASE_URL (default postgres://postgres@127.0.0.1:5432/clearinghouse), reads only.
 * Prints one line of JSON and exits 0 when the chain is intact, 1 when it is broken (the result names
 * the first broken link), 2 when it could not run (bad arguments, database unreachable, no schema).
 */
import { createDataSource, databaseUrl, redactUrl, verifyChain } from '@ch/persistence';

function parseArgs(argv: string[]): { fromSeq?: number; batchSize?: number } {
  const out: { fromSeq?: number; batchSize?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${JSON.stringify(value)}`);
    if (flag === '--from') out.fromSeq = n;
    else if (flag === '--batch-size') out.batchSize = n;
    else throw new Error(`unknown argument ${flag} (use --from <seq>, --batch-size <n>)`);
  }
  return out;
}

async function main(): Promise<number> {
  const url = databaseUrl();
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }) + '\n');
    return 2;
  }
  const ds = createDataSource(url, { poolSize: 2, applicationName: 'log-verify' });
  const started = Date.now();
  try {
    await ds.initialize();
    const result = await verifyChain(ds, args);
    const ms = Date.now() - started;
    process.stdout.write(JSON.stringify({ ...result, database: redactUrl(url), ms }) + '\n');
    return result.ok ? 0 : 1;
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message, database: redactUrl(url) }) + '\n');
    return 2;
  } finally {
    if (ds.isInitialized) await ds.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stdout.write(JSON.stringify({ ok: false, error: String(err) }) + '\n');
    process.exit(2);
  },
);
