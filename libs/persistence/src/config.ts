import { Client } from 'pg';
import { DataSource, MigrationExecutor } from 'typeorm';
import type { DataSourceOptions, Migration } from 'typeorm';
import { MIGRATIONS } from './migrations';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/clearinghouse';

/** DATABASE_URL, or the local default. */
export function databaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL && env.DATABASE_URL.trim() !== '' ? env.DATABASE_URL.trim() : DEFAULT_DATABASE_URL;
}

/** The database name of a postgres:// URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`no database name in ${redactUrl(url)}`);
  return name;
}

/** The same server, another database (e.g. the `postgres` maintenance database). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

/** The URL with any password masked, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/**
 * Creates the database named in `url` if it does not exist (through the `postgres` maintenance
 * database). Safe when several processes do it at once: losing the race is not an error.
 * Returns true when this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = new Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
        return true;
      } catch (err) {
        const code = (err as { code?: string }).code;
        // 42P04 duplicate_database; 23505 the concurrent insert into pg_database lost the race.
        if (code === '42P04' || code === '23505') return false;
        // 55006 object_in_use: someone is connected to template1 right now; retry briefly.
        if (code === '55006' && attempt < 20) {
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
          continue;
        }
        throw err;
      }
    }
  } finally {
    await admin.end();
  }
}

export interface DataSourceOpts {
  /** Connections in the pool (pg `max`); default 10. */
  poolSize?: number;
  /** Shown in pg_stat_activity; default 'clearinghouse'. */
  applicationName?: string;
  /** TypeORM query logging; default off. */
  logging?: boolean;
  /** TypeORM entities for projection tables (migrations still create the tables). */
  entities?: DataSourceOptions['entities'];
  /** statement_timeout for every connection, in ms; default none. */
  statementTimeoutMs?: number;
}

/**
 * A TypeORM DataSource for `url` (not yet initialized: call `await ds.initialize()`, or use
 * openDataSource). Never synchronizes; the schema comes only from MIGRATIONS.
 */
export function createDataSource(url: string = databaseUrl(), opts: DataSourceOpts = {}): DataSource {
  const extra: Record<string, unknown> = {
    max: opts.poolSize ?? 10,
    application_name: opts.applicationName ?? 'clearinghouse',
  };
  if (opts.statementTimeoutMs !== undefined) extra.statement_timeout = opts.statementTimeoutMs;
  return new DataSource({
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    dropSchema: false,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    entities: opts.entities ?? [],
    logging: opts.logging ?? false,
    extra,
  });
}

/** Arbitrary constant: the advisory lock that serialises migration runs across processes. */
const MIGRATION_LOCK_KEY = 0x63686d67; // 'chmg'

/**
 * Runs pending migrations (all in one transaction) under a session advisory lock, so several
 * services starting at once do not race each other. Returns the migrations that were applied.
 */
export async function runMigrations(ds: DataSource): Promise<Migration[]> {
  const qr = ds.createQueryRunner();
  try {
    await qr.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const executor = new MigrationExecutor(ds, qr);
      executor.transaction = 'all';
      return await executor.executePendingMigrations();
    } finally {
      await qr.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await qr.release();
  }
}

export interface OpenOpts extends DataSourceOpts {
  /** Create the database when missing (default false). */
  ensure?: boolean;
  /** Run pending migrations after connecting (default false). */
  migrate?: boolean;
}

/** ensureDatabase (optional) + createDataSource + initialize + runMigrations (optional). */
export async function openDataSource(url: string = databaseUrl(), opts: OpenOpts = {}): Promise<DataSource> {
  if (opts.ensure) await ensureDatabase(url);
  const ds = createDataSource(url, opts);
  await ds.initialize();
  try {
    if (opts.migrate) await runMigrations(ds);
  } catch (err) {
    await ds.destroy();
    throw err;
  }
  return ds;
}
