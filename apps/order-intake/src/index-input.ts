/**
 * The form of an index publication's provider rows (SPEC §10 `index` command): TPI rows
 * {provider, price, volume, mmlu, humaneval, gsm8k}, GCI rows {provider, gpu, price, volume}.
 * Prices and volumes are decimal strings (no binary floating point near a price); scores are
 * numbers or decimal strings from 0 to 100. A malformed row is the request's fault (400 with the
 * field); what the index rules refuse (too few qualified providers, an unknown GPU, a duplicate
 * provider) is decided by computeTpi/computeGci and answered 422.
 *
 * Scores leave here as decimal strings: the event log's canonical JSON carries no fractional
 * numbers, and the domain reads either form exactly.
 */
import { decimalAtMost, MAX_INDEX_PRICE, MAX_INDEX_VOLUME, type GciProviderInput, type IndexName, type TpiProviderInput } from '@ch/domain';

export const MAX_INDEX_PROVIDERS = 1000;

const PRICE = /^\d{1,15}(\.\d{1,12})?$/;
const VOLUME = /^\d{1,30}(\.\d{1,12})?$/;
const SCORE = /^\d{1,3}(\.\d{1,9})?$/;
const FIELDS: Record<IndexName, readonly string[]> = {
  TPI: ['provider', 'price', 'volume', 'mmlu', 'humaneval', 'gsm8k'],
  GCI: ['provider', 'gpu', 'price', 'volume'],
};

export type IndexRowsForm =
  | { readonly ok: true; readonly index: 'TPI'; readonly rows: TpiProviderInput[] }
  | { readonly ok: true; readonly index: 'GCI'; readonly rows: GciProviderInput[] }
  | { readonly ok: false; readonly field: string; readonly message: string };

export function isIndexName(value: unknown): value is IndexName {
  return value === 'TPI' || value === 'GCI';
}

export function readIndexRows(index: IndexName, providers: unknown): IndexRowsForm {
  if (!Array.isArray(providers)) return bad('providers', 'providers must be a list of provider rows');
  if (providers.length > MAX_INDEX_PROVIDERS) return bad('providers', `at most ${MAX_INDEX_PROVIDERS} providers`);
  const tpi: TpiProviderInput[] = [];
  const gci: GciProviderInput[] = [];
  for (let i = 0; i < providers.length; i++) {
    const at = `providers.${i}`;
    const row = providers[i] as Record<string, unknown>;
    if (row === null || typeof row !== 'object' || Array.isArray(row)) return bad(at, `${at} must be an object`);
    const unknown = Object.keys(row).find((k) => !FIELDS[index].includes(k));
    if (unknown !== undefined) return bad(`${at}.${unknown}`, `${unknown} is not a ${index} input field (${FIELDS[index].join(', ')})`);
    const provider = text(row.provider, 200);
    if (provider === null) return bad(`${at}.provider`, 'provider must be a non-empty name');
    if (!positive(row.price, PRICE, MAX_INDEX_PRICE))
      return bad(`${at}.price`, `price must be a positive decimal string such as "2.10", at most ${MAX_INDEX_PRICE}`);
    if (!positive(row.volume, VOLUME, MAX_INDEX_VOLUME))
      return bad(`${at}.volume`, `volume must be a positive decimal string such as "1000", at most ${MAX_INDEX_VOLUME}`);
    const price = row.price as string;
    const volume = row.volume as string;
    if (index === 'GCI') {
      const gpu = text(row.gpu, 64);
      if (gpu === null) return bad(`${at}.gpu`, 'gpu must be a non-empty GPU name such as "H100-80GB-SXM"');
      gci.push({ provider, gpu, price, volume });
      continue;
    }
    const scores: string[] = [];
    for (const name of ['mmlu', 'humaneval', 'gsm8k'] as const) {
      const s = score(row[name]);
      if (s === null) return bad(`${at}.${name}`, `${name} must be a score from 0 to 100`);
      scores.push(s);
    }
    tpi.push({ provider, price, volume, mmlu: scores[0], humaneval: scores[1], gsm8k: scores[2] });
  }
  return index === 'TPI' ? { ok: true, index, rows: tpi } : { ok: true, index, rows: gci };
}

function bad(field: string, message: string): IndexRowsForm {
  return { ok: false, field, message };
}

function text(v: unknown, max: number): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t.length > 0 && t.length <= max ? t : null;
}

function positive(v: unknown, pattern: RegExp, max: number): boolean {
  return typeof v === 'string' && pattern.test(v) && /[1-9]/.test(v) && decimalAtMost(v, max);
}

/** A score as a decimal string; a number keeps its shortest decimal form (86 -> "86", 66.9 -> "66.9"). */
function score(v: unknown): string | null {
  let s: string;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    s = String(v);
  } else if (typeof v === 'string') s = v.trim();
  else return null;
  if (!SCORE.test(s)) return null;
  const [whole, frac = ''] = s.split('.');
  const n = Number(whole);
  return n < 100 || (n === 100 && /^0*$/.test(frac)) ? s : null;
}
