/**
 * Real-Postgres helpers for integration tests: every test file gets its own migrated database.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import { Client } from 'pg';
// Relative, not '@ch/persistence': jest's globalSetup (which imports ensurePostgres) is loaded
// without moduleNameMapper, so path aliases do not resolve there. Same module file either way.
import { createDataSource, databaseUrl, quoteIdent, runMigrations, withDatabase } from '../../libs/persistence/src';

/** The server the tests use: DATABASE_URL's server (any database name), default 127.0.0.1:5432. */
export function testServerUrl(): string {
  return databaseUrl();
}

async function canConnect(url: string): Promise<boolean> {
  const c = new Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Checks that Postgres answers; if not, tries `pg_ctlcluster 15 main start` and waits up to 30 s.
 * Throws with a clear message when it still does not answer.
 */
export async function ensurePostgres(url: string = testServerUrl()): Promise<void> {
  if (await canConnect(url)) return;
  try {
    execFileSync('pg_ctlcluster', ['15', 'main', 'start'], { stdio: 'pipe', timeout: 30_000 });
  } catch (err) {
    // Already running, or no permission: keep polling below and report if it never answers.
    process.stderr.write(`pg_ctlcluster 15 main start: ${(err as Error).message.split('\n')[0]}\n`);
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await canConnect(url)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`PostgreSQL does not answer at ${new URL(url).host} (tried pg_ctlcluster 15 main start)`);
}

export interface TestDatabase {
  url: string;
  name: string;
  drop: () => Promise<void>;
}

/**
 * Creates a uniquely named database (ch_test_<name>_<time>_<random>) on the test server and runs
 * the migrations in it (unless migrate: false). `drop()` terminates its connections and drops it.
 */
export async function createTestDatabase(name: string, opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 30) || 'db';
  const dbName = `ch_test_${slug}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const server = testServerUrl();
  const admin = new Client({ connectionString: withDatabase(server, 'postgres') });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(dbName)}`);
        break;
      } catch (err) {
        // 55006: template1 is momentarily in use by another session.
        if ((err as { code?: string }).code === '55006' && attempt < 20) {
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
          continue;
        }
        throw err;
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(server, dbName);
  const drop = async (): Promise<void> => {
    const c = new Client({ connectionString: withDatabase(server, 'postgres') });
    await c.connect();
    try {
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  };
  if (opts.migrate !== false) {
    const ds = createDataSource(url, { poolSize: 2, applicationName: 'test-migrate' });
    try {
      await ds.initialize();
      await runMigrations(ds);
    } catch (err) {
      await drop().catch(() => undefined);
      throw err;
    } finally {
      if (ds.isInitialized) await ds.destroy();
    }
  }
  return { url, name: dbName, drop };
}
