/**
 * Issue 11 item 10 (first part): the operations key `npm start` keeps in .run/ops-api-key is
 * readable by its owner only (0600) in a private .run (0700), on a fresh installation, on one
 * from before (key 0644, directory 0755), and whatever the umask. scripts/up.sh writes the key
 * only through scripts/ops-key.js (it used to redirect into the file, which the umask left 0644).
 * No broker or database: the script runs on a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const SCRIPT = join(ROOT, 'scripts', 'ops-key.js');
const mode = (path: string) => statSync(path).mode & 0o777;
/** Runs scripts/ops-key.js under a umask (through sh, as up.sh runs it); returns what it prints. */
const opsKey = (runDir: string, umask = '022') =>
  execFileSync('sh', ['-c', `umask ${umask} && exec "$0" "$1" "$2"`, process.execPath, SCRIPT, runDir], { encoding: 'utf8' });

describe('.run/ops-api-key is private', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'ops-key-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it.each(['022', '000'])('a fresh installation (umask %s): key file 0600, .run 0700, the key printed and kept', (umask) => {
    const run = join(tmp, '.run');
    const key = opsKey(run, umask);
    expect(key).toMatch(/^chk_ops_[A-Za-z0-9_-]{32}$/);
    expect(readFileSync(join(run, 'ops-api-key'), 'utf8')).toBe(key);
    expect(mode(join(run, 'ops-api-key'))).toBe(0o600);
    expect(mode(run)).toBe(0o700);
    expect(opsKey(run, umask)).toBe(key); // generated once
  });

  it('an installation from before (key 0644, .run 0755 with logs): tightened, the same key kept', () => {
    const run = join(tmp, '.run');
    mkdirSync(join(run, 'logs'), { recursive: true });
    chmodSync(run, 0o755);
    writeFileSync(join(run, 'ops-api-key'), 'chk_ops_existing-key\n', { mode: 0o644 });
    chmodSync(join(run, 'ops-api-key'), 0o644);
    expect(opsKey(run)).toBe('chk_ops_existing-key');
    expect(mode(join(run, 'ops-api-key'))).toBe(0o600);
    expect(mode(run)).toBe(0o700);
  });

  it('an empty key file left behind gets a key, still 0600', () => {
    const run = join(tmp, '.run');
    mkdirSync(run);
    writeFileSync(join(run, 'ops-api-key'), '', { mode: 0o644 });
    chmodSync(join(run, 'ops-api-key'), 0o644);
    expect(opsKey(run)).toMatch(/^chk_ops_/);
    expect(mode(join(run, 'ops-api-key'))).toBe(0o600);
  });

  it('scripts/up.sh makes .run private and gets the key from scripts/ops-key.js only', () => {
    const up = readFileSync(join(ROOT, 'scripts', 'up.sh'), 'utf8');
    expect(up).toContain('chmod 700 .run');
    expect(up).toContain('OPS_API_KEY="$(node scripts/ops-key.js .run)"');
    // no other writer of the key file (a shell redirect creates it 0644 under the usual umask)
    expect(up).not.toMatch(/>\s*\.run\/ops-api-key/);
  });
});
