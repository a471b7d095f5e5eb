/**
 * Runs a scenario file (SPEC §10) through the rulebook in one process. Pure: the caller reads the
 * file and supplies the hash function (the shell has crypto; the core does not).
 */
import { parseScenarioLine, type ScenarioCommand } from './commands';
import type { RulebookEvent } from './events';
import { formatAccounts, reportLists, type ScenarioReport } from './report';
import { Rulebook } from './rulebook';

export type HashFn = (canonicalJson: string) => string;

export interface ScenarioRun {
  readonly report: ScenarioReport;
  readonly events: RulebookEvent[];
  readonly rulebook: Rulebook;
}

/** JSON with object keys sorted, so equal states hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Parses a scenario file line by line (blank lines skipped): each line either a command or, when
 * malformed, an error with its line number. The in-process and the live runner share it.
 */
export function parseScenarioLines(text: string): ({ line: number; command: ScenarioCommand } | { line: number; message: string })[] {
  const out: ({ line: number; command: ScenarioCommand } | { line: number; message: string })[] = [];
  let previousAt: number | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const parsed = parseScenarioLine(line, previousAt);
    if (!parsed.ok) {
      out.push({ line: i + 1, message: parsed.message });
      continue;
    }
    previousAt = parsed.command.at;
    out.push({ line: i + 1, command: parsed.command });
  }
  return out;
}

export function runScenario(text: string, hash: HashFn, rulebook: Rulebook = new Rulebook()): ScenarioRun {
  const events: RulebookEvent[] = [];
  const errors: { line: number; message: string }[] = [];
  for (const entry of parseScenarioLines(text)) {
    const lineNo = entry.line;
    if ('message' in entry) {
      errors.push({ line: lineNo, message: entry.message });
      continue;
    }
    const r = rulebook.execute(entry.command);
    events.push(...r.events);
    if (r.refused !== undefined) errors.push({ line: lineNo, message: r.refused });
    for (const e of r.events) if (e.type === 'EndOfDayFailed') errors.push({ line: lineNo, message: e.message });
  }
  const report = buildReport(events, rulebook, errors, hash);
  return { report, events, rulebook };
}

export function buildReport(events: RulebookEvent[], rulebook: Rulebook, errors: { line: number; message: string }[], hash: HashFn): ScenarioReport {
  const figures: Record<string, ReturnType<Rulebook['accountView']>> = {};
  for (const id of rulebook.accountIds()) figures[id] = rulebook.accountView(id);
  return { ...reportLists(events), accounts: formatAccounts(figures), errors, stateHash: hash(canonicalJson(rulebook.canonicalState())) };
}
