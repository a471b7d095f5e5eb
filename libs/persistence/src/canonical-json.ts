/**
 * Canonical JSON (the byte string the event hash is computed over).
 *
 * Rules, chosen so that a value survives a round trip through Postgres `jsonb` unchanged:
 * - object keys sorted by UTF-16 code units (Array.prototype.sort's default order), no whitespace;
 *   properties whose value is `undefined` are omitted (as JSON.stringify and jsonb would);
 * - numbers: safe integers only (|n| <= 2^53 - 1), written in plain decimal (-0 is written 0).
 *   Fractions, NaN/Infinity and larger integers are rejected: jsonb stores numbers as `numeric`
 *   and a JS reader would lose precision, so decimals and big integers travel as strings
 *   ("2.05", "9007199254740993");
 * - strings: JSON.stringify escaping; strings containing U+0000 or lone surrogates are rejected
 *   (jsonb/text cannot store them);
 * - only plain objects (prototype Object.prototype or null) and arrays; Date, Map, Buffer, bigint,
 *   class instances, functions, symbols, `undefined` array elements and cycles are rejected.
 */

export class CanonicalJsonError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`not canonical JSON at ${path}: ${reason}`);
    this.name = 'CanonicalJsonError';
  }
}

const BAD_STRING = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` can be stored in Postgres text/jsonb unchanged (no NUL, no lone surrogate). */
export function isStorableString(s: string): boolean {
  return !BAD_STRING.test(s);
}

export function canonicalJson(value: unknown): string {
  return write(value, [], new Set());
}

function pathOf(keys: (string | number)[]): string {
  return '$' + keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
}

// `keys` is the path to `value`, kept as a stack and only formatted for an error message.
function write(value: unknown, keys: (string | number)[], stack: Set<object>): string {
  switch (typeof value) {
    case 'string':
      if (BAD_STRING.test(value)) throw new CanonicalJsonError(pathOf(keys), 'string contains U+0000 or a lone surrogate');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalJsonError(pathOf(keys), `number ${value} is not a safe integer (send decimals and big integers as strings)`);
      }
      return value === 0 ? '0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    case 'bigint':
      throw new CanonicalJsonError(pathOf(keys), 'bigint (send it as a decimal string)');
    default:
      throw new CanonicalJsonError(pathOf(keys), `unsupported type ${typeof value}`);
  }
  if (value === null) return 'null';
  if (stack.has(value)) throw new CanonicalJsonError(pathOf(keys), 'cycle');
  stack.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      keys.push(i);
      if (item === undefined) throw new CanonicalJsonError(pathOf(keys), 'undefined array element');
      out += (i > 0 ? ',' : '') + write(item, keys, stack);
      keys.pop();
    }
    out += ']';
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
      throw new CanonicalJsonError(pathOf(keys), `not a plain object (${name})`);
    }
    const obj = value as Record<string, unknown>;
    const names = Object.keys(obj).sort();
    out = '{';
    let first = true;
    for (const k of names) {
      const v = obj[k];
      if (v === undefined) continue;
      if (BAD_STRING.test(k)) throw new CanonicalJsonError(pathOf(keys), `key ${JSON.stringify(k)} contains U+0000 or a lone surrogate`);
      keys.push(k);
      out += (first ? '' : ',') + JSON.stringify(k) + ':' + write(v, keys, stack);
      keys.pop();
      first = false;
    }
    out += '}';
  }
  stack.delete(value);
  return out;
}
