/**
 * Payload JSON text straight to the encoding of log-codec.ts, without building the wire object or
 * the event: what `ValueEncoder.value(eventFromWire(JSON.parse(text)))` writes, for the text Postgres
 * prints for a jsonb payload. The log reader's worker spends most of its time here, so it reads the
 * UTF-8 bytes as they came off the socket: keys and the string values that recur are recognised by
 * their bytes (one JS string each, made once; the key that followed the same keys last time, and the
 * value last seen under a key, are tried first), numbers are read from their digits, and the fields
 * that eventFromWire converts (prices, cash, times: `fromWireLeaf`) are converted by the rulebook's
 * own conversion, remembered per key by the bytes of the text.
 *
 * It vouches only for what it fully understands: a top-level object; strings without escapes;
 * no duplicate keys, array-index keys or `__proto__` (which would change key order or meaning);
 * converted fields holding strings or null. For anything else (and when a conversion throws) it
 * writes nothing and returns false, and the caller takes JSON.parse and eventFromWire: the result
 * is the same either way, only slower.
 */
import { eventFromWire, fromWireLeaf } from '@ch/rulebook/wire';
import { bytesToString, T_ARRAY, T_FALSE, T_NULL, T_NUM, T_OBJECT, T_STR, T_TRUE, type ShapeNode, type ValueEncoder } from './log-codec';

const BAIL = new Error('bail'); // thrown often: made once, so throwing it captures no stack
const MAX_DEPTH = 64;
const MEMO_BYTES = 64;
/** Lookups of a key's conversion table after which it is dropped unless half of them hit. */
const CONVERSION_TRIAL = 4096;
/** Likewise for a key's table of string values. */
const STRING_TRIAL = 4096;
/** encode's textBase when there is no text to point into. */
const NO_TEXT = -1;

/** A byte sequence seen before, and what it stands for. */
interface Entry {
  readonly hash: number;
  readonly bytes: Uint8Array;
}

interface StringEntry extends Entry {
  readonly str: string;
  /** The string's id in the encoder's table, valid in `generation` (see ValueEncoder.generation). */
  id: number;
  generation: number;
}

interface KeyEntry extends StringEntry {
  /** eventFromWire's conversion of a primitive under this key (null: none). */
  readonly leaf: ((value: unknown) => unknown) | null;
  /** A key V8 orders before the others ("0", "17"), or `__proto__`: not handled here. */
  readonly odd: boolean;
  /** The member's text up to its value as Postgres prints it: `"key": `; and as little-endian int32s. */
  readonly text: Uint8Array;
  readonly words: Int32Array;
  /** The string value last read under this key, and the strings read under it (by their bytes). */
  lastValue: StringEntry | null;
  values: ByteTable<StringEntry> | null;
  valueLookups: number;
  valueHits: number;
  /** The text last converted under this key (its first `memoLength` bytes) and its conversion. */
  readonly memo: Uint8Array;
  memoLength: number;
  memoValue: unknown;
  /** Conversions under this key by the bytes of the text, while that pays (values that recur: prices). */
  conversions: ByteTable<ConvertedEntry> | null;
  lookups: number;
  hits: number;
}

interface ConvertedEntry extends Entry {
  readonly value: unknown;
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;

function sameBytes(e: Entry, b: Uint8Array, start: number, end: number): boolean {
  const x = e.bytes;
  const len = end - start;
  if (x.length !== len) return false;
  for (let i = 0; i < len; i++) if (x[i] !== b[start + i]) return false;
  return true;
}

/**
 * Entries by byte sequence: open addressing on the FNV-1a hash (the hashes in a typed array, so a
 * probe touches an entry only when its hash matches); doubles when half full up to `maxBits`, then
 * starts afresh.
 */
class ByteTable<E extends Entry> {
  private slots: (E | undefined)[];
  private hashes: Int32Array;
  private mask: number;
  private size = 0;
  /** Entries made so far. */
  created = 0;

  constructor(
    bits: number,
    private readonly maxBits: number,
    private readonly make: (hash: number, bytes: Uint8Array, b: Buffer, start: number, end: number) => E,
  ) {
    this.slots = new Array<E | undefined>(1 << bits).fill(undefined);
    this.hashes = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
  }

  get(b: Buffer, start: number, end: number, hash: number): E {
    const slots = this.slots;
    const hashes = this.hashes;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const e = slots[i];
      if (e === undefined) break;
      if (hashes[i] === hash && sameBytes(e, b, start, end)) return e;
      i = (i + 1) & mask;
    }
    if (this.size * 2 >= slots.length) {
      this.resize(slots.length < 1 << this.maxBits ? slots.length * 2 : slots.length);
      return this.get(b, start, end, hash);
    }
    const bytes = new Uint8Array(end - start);
    for (let j = start; j < end; j++) bytes[j - start] = b[j];
    const e = this.make(hash, bytes, b, start, end);
    slots[i] = e;
    hashes[i] = hash;
    this.size++;
    this.created++;
    return e;
  }

  /** Grows (keeping the entries), or starts afresh at the same size. */
  private resize(length: number): void {
    const old = this.slots;
    this.slots = new Array<E | undefined>(length).fill(undefined);
    this.hashes = new Int32Array(length);
    this.mask = length - 1;
    this.size = 0;
    if (length === old.length) return;
    for (const e of old) {
      if (e === undefined) continue;
      let i = e.hash & this.mask;
      while (this.slots[i] !== undefined) i = (i + 1) & this.mask;
      this.slots[i] = e;
      this.hashes[i] = e.hash;
      this.size++;
    }
  }
}

function makeString(hash: number, bytes: Uint8Array, b: Buffer, start: number, end: number): StringEntry {
  return { hash, bytes, str: bytesToString(b, start, end), id: -1, generation: -1 };
}

function fnv(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i], 16777619);
  return h | 0;
}

export class PayloadTranscoder {
  private b: Buffer = Buffer.alloc(0);
  private p = 0;
  private end = 0;
  /** The FNV-1a hash of the string scanString last read. */
  private hash = 0;
  /** See encode. */
  private textBase = NO_TEXT;
  /** A DataView of the buffer being read (made once per buffer). */
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private viewOf: Buffer | null = null;
  private readonly keys = new ByteTable<KeyEntry>(8, 12, (hash, bytes, b, start, end) => {
    const str = b.toString('utf8', start, end);
    const text = Uint8Array.from([34, ...bytes, 34, 58, 32]);
    const words = new Int32Array(text.length >> 2);
    const textView = new DataView(text.buffer);
    for (let i = 0; i < words.length; i++) words[i] = textView.getInt32(4 * i, true);
    return {
      hash,
      bytes,
      str,
      id: -1,
      generation: -1,
      leaf: fromWireLeaf(str),
      odd: str === '__proto__' || (ARRAY_INDEX.test(str) && Number(str) < 4294967295),
      text,
      words,
      lastValue: null,
      values: null,
      valueLookups: 0,
      valueHits: 0,
      memo: new Uint8Array(MEMO_BYTES),
      memoLength: -1,
      memoValue: undefined,
      conversions: null,
      lookups: 0,
      hits: 0,
    };
  });
  private readonly strings = new ByteTable<StringEntry>(10, 17, makeString);

  /** Payloads read, and declined (for tests and diagnostics). */
  readonly counts = { read: 0, declined: 0 };

  constructor(private readonly enc: ValueEncoder) {}

  /**
   * Writes the event of the payload text b[start, end) (UTF-8 JSON, as Postgres prints jsonb) to
   * the encoder and returns true; or writes nothing and returns false (see above). `textBase`:
   * where b[0] would be in the batch's text the receiver gets (b[i] is its byte textBase + i), so
   * that strings that do not recur can be sent as their bytes there (T_TEXT).
   */
  encode(b: Buffer, start: number, end: number, textBase: number = NO_TEXT): boolean {
    if (b !== this.viewOf) {
      this.view = new DataView(b.buffer, b.byteOffset, b.length);
      this.viewOf = b;
    }
    this.b = b;
    this.p = start;
    this.end = end;
    this.textBase = textBase;
    this.enc.mark();
    try {
      this.ws();
      if (b[this.p] !== 123) throw BAIL;
      this.object(0);
      this.ws();
      if (this.p !== end) throw BAIL;
      this.counts.read++;
      return true;
    } catch {
      // BAIL, a refusal of the encoder, or a conversion that threw: the reference path decides.
      this.enc.rollback();
      this.counts.declined++;
      return false;
    }
  }

  /** The id of the string b[start, end) (UTF-8 bytes, recognised as the values are). */
  stringId(b: Buffer, start: number, end: number): number {
    return this.id(this.strings.get(b, start, end, fnv(b, start, end)));
  }

  /**
   * The string under `key` at b[start, stop). From the key's own table (the few values of most
   * keys, sides, accounts, types, stay in cache) while its values recur; for a key whose values
   * mostly do not (order ids), made afresh each time, and sent again each time.
   */
  private keyString(key: KeyEntry, b: Buffer, start: number, stop: number): StringEntry {
    if (key.valueLookups < STRING_TRIAL || key.valueHits * 2 >= key.valueLookups) {
      const table = (key.values ??= new ByteTable<StringEntry>(6, 17, makeString));
      const made = table.created;
      const e = table.get(b, start, stop, fnv(b, start, stop));
      key.valueLookups++;
      if (table.created === made) key.valueHits++;
      return e;
    }
    key.values = null;
    const bytes = new Uint8Array(stop - start);
    for (let j = start; j < stop; j++) bytes[j - start] = b[j];
    return makeString(0, bytes, b, start, stop);
  }

  private ws(): void {
    const b = this.b;
    let p = this.p;
    while (p < this.end) {
      const c = b[p];
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
      p++;
    }
    this.p = p;
  }

  /** At an opening quote: returns where the string's bytes end; p moves past the closing quote. */
  private scanString(): number {
    const b = this.b;
    const end = this.end;
    let p = this.p + 1;
    for (;;) {
      if (p >= end) throw BAIL;
      const c = b[p];
      if (c === 34) break;
      if (c === 92 || c < 32) throw BAIL; // escapes (and raw control characters, which JSON forbids)
      p++;
    }
    this.p = p + 1;
    return p;
  }

  /** At an opening quote: true, and p past the closing quote, when the string is e's bytes. */
  private matches(e: Entry): boolean {
    const b = this.b;
    const x = e.bytes;
    const len = x.length;
    const start = this.p + 1;
    if (start + len >= this.end || b[start + len] !== 34) return false;
    for (let i = 0; i < len; i++) if (x[i] !== b[start + i]) return false;
    this.p = start + len + 1;
    return true;
  }

  private id(e: StringEntry): number {
    const enc = this.enc;
    if (e.generation !== enc.generation) {
      e.id = enc.addString(e.str);
      e.generation = enc.generation;
    }
    return e.id;
  }

  private object(depth: number): void {
    if (depth >= MAX_DEPTH) throw BAIL;
    const enc = this.enc;
    const b = this.b;
    this.p++; // {
    enc.int(T_OBJECT);
    const shapeAt = enc.slot();
    let node: ShapeNode = enc.shapeRoot();
    this.ws();
    if (b[this.p] === 125) {
      this.p++;
      enc.patch(shapeAt, enc.shapeId(node));
      return;
    }
    for (;;) {
      let k: KeyEntry;
      let next: ShapeNode;
      const expected = node.hint as KeyEntry | undefined;
      if (expected !== undefined && this.skip(expected)) {
        // The same key as last time after these keys, printed as Postgres prints it: `"key": `.
        k = node.hint as KeyEntry;
        next = node.hintNext!;
      } else {
        this.ws();
        if (b[this.p] !== 34) throw BAIL;
        const start = this.p + 1;
        const stop = this.scanString();
        k = this.keys.get(b, start, stop, fnv(b, start, stop));
        if (k.odd) throw BAIL;
        next = enc.shapeNext(node, k.str);
        node.hint = k;
        node.hintNext = next;
        this.ws();
        if (b[this.p] !== 58) throw BAIL;
        this.p++;
        this.ws();
      }
      node = next;
      if (node.dup) throw BAIL; // a duplicate key
      this.value(k, depth);
      const p = this.p;
      const c = b[p];
      if (c === 44 && b[p + 1] === 32) {
        this.p = p + 2; // ', ' as Postgres prints it
        continue;
      }
      if (c === 125) {
        this.p = p + 1;
        break;
      }
      this.ws();
      const d = b[this.p];
      if (d === 44) {
        this.p++;
        continue;
      }
      if (d === 125) {
        this.p++;
        break;
      }
      throw BAIL;
    }
    enc.patch(shapeAt, enc.shapeId(node));
  }

  /** True, and p past them, when the next bytes are `expected`. */
  private skip(k: KeyEntry): boolean {
    const b = this.b;
    const p = this.p;
    const text = k.text;
    const n = text.length;
    if (p + n > this.end) return false;
    // Four bytes at a time (a DataView read is one load once optimised), then the rest.
    const view = this.view;
    const words = k.words;
    let i = 0;
    for (; i < words.length; i++) if (view.getInt32(p + 4 * i, true) !== words[i]) return false;
    for (i *= 4; i < n; i++) if (text[i] !== b[p + i]) return false;
    this.p = p + n;
    return true;
  }

  private array(depth: number): void {
    if (depth >= MAX_DEPTH) throw BAIL;
    const enc = this.enc;
    const b = this.b;
    this.p++; // [
    enc.int(T_ARRAY);
    const lengthAt = enc.slot();
    let n = 0;
    this.ws();
    if (b[this.p] === 93) {
      this.p++;
      enc.patch(lengthAt, 0);
      return;
    }
    for (;;) {
      this.value(null, depth);
      n++;
      this.ws();
      const c = b[this.p];
      if (c === 44) {
        this.p++;
        this.ws();
        continue;
      }
      if (c === 93) {
        this.p++;
        break;
      }
      throw BAIL;
    }
    enc.patch(lengthAt, n);
  }

  /** One value; `key` is the member it is the value of (null in an array). */
  private value(key: KeyEntry | null, depth: number): void {
    const enc = this.enc;
    const b = this.b;
    const c = b[this.p];
    if (c === 123) return this.object(depth + 1);
    if (c === 91) return this.array(depth + 1);
    if (c === 34) {
      if (key === null) {
        const start = this.p + 1;
        const stop = this.scanString();
        enc.int(T_STR);
        enc.int(this.id(this.strings.get(b, start, stop, fnv(b, start, stop))));
        return;
      }
      if (key.leaf === null) {
        if (key.values === null && key.valueLookups >= STRING_TRIAL && this.textBase !== NO_TEXT) {
          // A key whose values do not recur (order ids): the string as its bytes in the text.
          const start = this.p + 1;
          const stop = this.scanString();
          enc.text(this.textBase + start, this.textBase + stop);
          return;
        }
        let v = key.lastValue;
        if (v === null || !this.matches(v)) {
          const start = this.p + 1;
          const stop = this.scanString();
          v = key.lastValue = this.keyString(key, b, start, stop);
        }
        enc.int(T_STR);
        enc.int(this.id(v));
        return;
      }
      enc.value(this.converted(key), depth + 1);
      return;
    }
    if (c === 110) {
      this.literal(110, 117, 108, 108); // null: never converted
      enc.int(T_NULL);
      return;
    }
    if (key !== null && key.leaf !== null) throw BAIL; // a number or boolean where eventFromWire converts: rare, not done here
    if (c === 116) {
      this.literal(116, 114, 117, 101);
      enc.int(T_TRUE);
      return;
    }
    if (c === 102) {
      this.literal(102, 97, 108, 115);
      if (b[this.p] !== 101) throw BAIL;
      this.p++;
      enc.int(T_FALSE);
      return;
    }
    enc.int(T_NUM);
    enc.num(this.number());
  }

  /** A converted field's string (at its opening quote): eventFromWire's conversion of it. */
  private converted(key: KeyEntry): unknown {
    const b = this.b;
    const memo = key.memo;
    const n = key.memoLength;
    const start = this.p + 1;
    if (n >= 0 && start + n < this.end && b[start + n] === 34) {
      let i = 0;
      while (i < n && memo[i] === b[start + i]) i++;
      if (i === n) {
        this.p = start + n + 1;
        return key.memoValue;
      }
    }
    const stop = this.scanString();
    const leaf = key.leaf!;
    let value: unknown;
    // A conversion throws on a malformed value (nothing is remembered then): the reference path reports it.
    if (key.lookups < CONVERSION_TRIAL || key.hits * 2 >= key.lookups) {
      key.conversions ??= new ByteTable<ConvertedEntry>(8, 12, (hash, bytes, buf, s, e) => ({ hash, bytes, value: leaf(bytesToString(buf, s, e)) }));
      const before = key.conversions.created;
      value = key.conversions.get(b, start, stop, fnv(b, start, stop)).value;
      key.lookups++;
      if (key.conversions.created === before) key.hits++;
    } else {
      key.conversions = null;
      value = leaf(bytesToString(b, start, stop));
    }
    const len = stop - start;
    if (len <= MEMO_BYTES) {
      for (let i = 0; i < len; i++) memo[i] = b[start + i];
      key.memoLength = len;
      key.memoValue = value;
    } else key.memoLength = -1;
    return value;
  }

  private literal(c0: number, c1: number, c2: number, c3: number): void {
    const b = this.b;
    const p = this.p;
    if (p + 4 > this.end || b[p] !== c0 || b[p + 1] !== c1 || b[p + 2] !== c2 || b[p + 3] !== c3) throw BAIL;
    this.p = p + 4;
  }

  /** A JSON number; the same double JSON.parse gives. */
  private number(): number {
    const b = this.b;
    const end = this.end;
    const start = this.p;
    let p = start;
    let neg = false;
    if (b[p] === 45) {
      neg = true;
      p++;
    }
    let v = 0;
    let digits = 0;
    if (b[p] === 48) {
      p++;
      digits = 1;
    } else if (b[p] >= 49 && b[p] <= 57) {
      while (p < end && b[p] >= 48 && b[p] <= 57) {
        v = v * 10 + (b[p] - 48);
        p++;
        digits++;
      }
    } else throw BAIL;
    let plain = true;
    if (p < end && b[p] === 46) {
      plain = false;
      p++;
      if (!(p < end && b[p] >= 48 && b[p] <= 57)) throw BAIL;
      while (p < end && b[p] >= 48 && b[p] <= 57) p++;
    }
    if (p < end && (b[p] === 101 || b[p] === 69)) {
      plain = false;
      p++;
      if (p < end && (b[p] === 43 || b[p] === 45)) p++;
      if (!(p < end && b[p] >= 48 && b[p] <= 57)) throw BAIL;
      while (p < end && b[p] >= 48 && b[p] <= 57) p++;
    }
    this.p = p;
    // Up to 15 digits an integer is exact in a double; anything else as JSON.parse reads it.
    if (plain && digits <= 15) return neg ? -v : v;
    return Number(b.toString('latin1', start, p));
  }
}

/**
 * Writes eventFromWire(JSON.parse(text)) of the payload text b[start, end) (UTF-8 JSON) to the
 * encoder: by the transcoder, or when it declines, by JSON.parse and eventFromWire themselves.
 * False, with nothing written, when there is no event to send: the payload does not decode (the
 * receiver decodes it again and reports it) or cannot be encoded (the receiver decodes it itself).
 */
export function encodeEvent(tc: PayloadTranscoder, enc: ValueEncoder, b: Buffer, start: number, end: number, textBase?: number): boolean {
  if (tc.encode(b, start, end, textBase)) return true;
  let event: unknown;
  try {
    event = eventFromWire(JSON.parse(b.toString('utf8', start, end)) as Record<string, unknown>);
  } catch {
    return false;
  }
  enc.mark();
  try {
    enc.value(event);
    return true;
  } catch {
    enc.rollback();
    return false;
  }
}
