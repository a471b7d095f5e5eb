/**
 * A throwaway single-node Kafka broker of the test's own: fresh storage in a temporary directory,
 * its own client and controller ports, the jars scripts/kafka.sh fetched. A test may kill it and
 * start it again (a broker outage, a fresh cluster) without touching the shared broker the other
 * tests use. Only the process this helper started is ever signalled, by its pid.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const VERSION = process.env.KAFKA_VERSION ?? '3.9.2';

export interface OwnBroker {
  /** host:port for KAFKA_BROKERS. */
  readonly address: string;
  /** SIGKILL, as a crash: the port refuses connections until start(). */
  kill(): Promise<void>;
  /** Starts it again on the same storage and ports; resolves once it answers as a ready broker. */
  start(): Promise<void>;
  /** kill() and remove its storage. */
  destroy(): Promise<void>;
  log(): string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd: ROOT, timeout: 10 * 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** `properties`: server.properties entries that override the defaults below. */
export async function startOwnBroker(opts: { properties?: Record<string, string> } = {}): Promise<OwnBroker> {
  const libs = join(ROOT, '.cache', 'kafka', VERSION, 'libs');
  if (!existsSync(join(libs, '.complete'))) await run('bash', [join(ROOT, 'scripts', 'kafka.sh'), 'fetch']);
  const dir = mkdtempSync(join(tmpdir(), 'ch-own-broker-'));
  const port = await freePort();
  let controller = await freePort();
  while (controller === port) controller = await freePort();
  const props = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j.properties');
  const logFile = join(dir, 'kafka.log');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'auto.create.topics.enable=false',
      'delete.topic.enable=true',
      'num.partitions=1',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      // As scripts/kafka.sh: the offsets topic is created (by the first group) with 10 partitions.
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=10',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=10',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
      'log.segment.bytes=16777216',
      ...Object.entries(opts.properties ?? {}).map(([k, v]) => `${k}=${v}`),
      '',
    ].join('\n'),
  );
  writeFileSync(
    log4j,
    [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  // A Kafka Uuid: 16 random bytes, base64url without padding.
  const clusterId = randomBytes(16).toString('base64url');
  const java = (jvm: string[], main: string, args: string[]) => [...jvm, `-Dlog4j.configuration=file:${log4j}`, '-cp', `${libs}/*`, main, ...args];
  await run('java', java(['-Xmx128m'], 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', props]));

  let child: ChildProcess | null = null;
  const output: string[] = [];

  const ready = async (): Promise<boolean> =>
    new Promise((resolve) =>
      execFile(process.execPath, [join(ROOT, 'scripts', 'kafka-probe.js'), '--cluster-id', clusterId, `127.0.0.1:${port}`], { timeout: 5000 }, (err) =>
        resolve(!err),
      ),
    );

  async function start(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const c = spawn('java', java(['-Xmx256m', '-Xms128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'], 'kafka.Kafka', [props]), {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      output.push(b.toString());
      if (output.length > 300) output.splice(0, output.length - 300);
    };
    c.stdout.on('data', keep);
    c.stderr.on('data', keep);
    child = c;
    const until = Date.now() + 120_000;
    while (!(await ready())) {
      if (c.exitCode !== null) throw new Error(`own broker exited with ${c.exitCode}:\n${output.join('').slice(-3000)}`);
      if (Date.now() > until) throw new Error(`own broker not ready within 120 s:\n${output.join('').slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async function kill(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    address: `127.0.0.1:${port}`,
    kill,
    start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output.join('') + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}
