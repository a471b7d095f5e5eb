/**
 * A compact encoding of JSON-like values (numbers, strings, booleans, null, arrays, plain objects)
 * for handing decoded log events from the log reader's worker thread to the thread that folds them.
 *
 * Structured clone (postMessage of the objects themselves) costs the receiving thread about as much
 * as JSON.parse, which is what the worker is there to take off it. Here the receiver only reads two
 * transferred typed arrays: numbers go into a Float64Array, everything else into an Int32Array of
 * tags, string ids and shape ids. Strings and object shapes (an object's keys, in order) are sent
 * once and then referred to by id, and objects are rebuilt by one generated constructor per shape,
 * so a decoded value is a fresh object with the same own keys in the same order and the same
 * values as the encoded one (-0 included).
 *
 * Anything else (a key `__proto__`, which an object literal would not create as an own property,
 * undefined inside an array, a non-plain object, too many shapes) is refused with CodecRefusal; the
 * reader then leaves the record to be decoded by the receiver itself.
 */

export const T_NUM = 0;
export const T_STR = 1;
export const T_TRUE = 2;
export const T_FALSE = 3;
export const T_NULL = 4;
export const T_UNDEFINED = 5;
export const T_ARRAY = 6;
export const T_OBJECT = 7;
/** A string given by its UTF-8 bytes in the batch's text (start, end). */
export const T_TEXT = 8;

/** Strings remembered on both sides before the tables start afresh (bounds their memory). */
export const MAX_STRINGS = 1 << 17;
const MAX_SHAPES = 4096;
const MAX_KEYS = 256;
const MAX_DEPTH = 64;

export class CodecRefusal extends Error {}

/**
 * The string of the UTF-8 bytes b[s, e): for short ASCII text by String.fromCharCode, several times
 * cheaper than a call into Buffer's decoder; otherwise Buffer's UTF-8 decoding.
 */
export function bytesToString(b: Buffer, s: number, e: number): string {
  const n = e - s;
  if (n > 24) return b.toString('utf8', s, e);
  for (let i = s; i < e; i++) if (b[i] >= 0x80) return b.toString('utf8', s, e);
  switch (n) {
    case 0:
      return '';
    case 1:
      return String.fromCharCode(b[s]);
    case 2:
      return String.fromCharCode(b[s], b[s + 1]);
    case 3:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2]);
    case 4:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    case 7:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
    case 8:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
    case 9:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8]);
    case 10:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9]);
    case 11:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10]);
    case 12:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11]);
    case 13:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
      );
    case 14:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
      );
    case 15:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
      );
    case 16:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
      );
    case 17:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
      );
    case 18:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
      );
    case 19:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
        b[s + 18],
      );
    case 20:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
        b[s + 18],
        b[s + 19],
      );
    case 21:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
        b[s + 18],
        b[s + 19],
        b[s + 20],
      );
    case 22:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
        b[s + 18],
        b[s + 19],
        b[s + 20],
        b[s + 21],
      );
    case 23:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
        b[s + 18],
        b[s + 19],
        b[s + 20],
        b[s + 21],
        b[s + 22],
      );
    case 24:
      return String.fromCharCode(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
        b[s + 16],
        b[s + 17],
        b[s + 18],
        b[s + 19],
        b[s + 20],
        b[s + 21],
        b[s + 22],
        b[s + 23],
      );
    default:
      return b.toString('utf8', s, e);
  }
}

/** One batch's part of the tables plus its data, as posted (ops and nums are transferred). */
export interface EncodedBatch {
  /** The receiver clears its tables before reading this batch. */
  readonly reset: boolean;
  /** Strings and shapes first used in this batch, in id order. */
  readonly strings: string[];
  readonly shapes: string[][];
  readonly ops: Int32Array;
  readonly nums: Float64Array;
}

/** A node of the shape trie: the keys read so far in an object; `id` once a shape ends here. */
export interface ShapeNode {
  id: number;
  readonly next: Map<string, ShapeNode>;
  /** The keys, in order. */
  readonly keys: readonly string[];
  /** A key appears twice among them (only a reader of text meets that). */
  readonly dup: boolean;
  /** For a reader of text: the key that came next last time and the node it led to (a guess). */
  hint: unknown;
  hintNext: ShapeNode | undefined;
}

function shapeNode(keys: readonly string[], dup: boolean): ShapeNode {
  return { id: -1, next: new Map(), keys, dup, hint: undefined, hintNext: undefined };
}

export class ValueEncoder {
  private ops = new Int32Array(1 << 16);
  private o = 0;
  private nums = new Float64Array(1 << 14);
  private n = 0;
  private strings = new Map<string, number>();
  /** Ids given by addString (not in `strings`). */
  private added = 0;
  private newStrings: string[] = [];
  private root: ShapeNode = shapeNode([], false);
  private shapeCount = 0;
  private newShapes: string[][] = [];
  private reset = false;
  /** Positions to roll back to when a value is refused. */
  private markO = 0;
  private markN = 0;
  private markStrings = 0;
  private markAdded = 0;
  private markTotal = 0;
  private markShapes = 0;

  /** Starts a record: a refusal from here on rolls back to this point (see `rollback`). */
  mark(): void {
    this.markO = this.o;
    this.markN = this.n;
    this.markStrings = this.newStrings.length;
    this.markAdded = this.added;
    this.markTotal = this.strings.size + this.added;
    this.markShapes = this.newShapes.length;
  }

  /** Undoes what was written since `mark` (strings and shapes learnt meanwhile are forgotten). */
  rollback(): void {
    this.o = this.markO;
    this.n = this.markN;
    if (this.newStrings.length > this.markStrings) {
      // Forget the strings given ids since the mark (looked up or added): ids are positions.
      for (let i = this.markStrings; i < this.newStrings.length; i++) {
        const s = this.newStrings[i];
        if (this.strings.get(s) === this.markTotal + (i - this.markStrings)) this.strings.delete(s);
      }
      this.added = this.markAdded;
      this.newStrings.length = this.markStrings;
      this.generation++;
    }
    if (this.newShapes.length > this.markShapes) {
      // Rare (a refused record that introduced a shape): rebuild the trie without those shapes.
      const keep = this.shapeCount - (this.newShapes.length - this.markShapes);
      this.newShapes.length = this.markShapes;
      this.pruneShapes(this.root, keep);
      this.shapeCount = keep;
    }
  }

  /** Writes a placeholder int and returns its place, for `patch`. */
  slot(): number {
    this.int(0);
    return this.o - 1;
  }

  /** An int already written (at a place `slot` returned, say). */
  peek(at: number): number {
    return this.ops[at];
  }

  patch(at: number, v: number): void {
    this.ops[at] = v;
  }

  int(v: number): void {
    if (this.o === this.ops.length) this.growOps();
    this.ops[this.o++] = v;
  }

  num(v: number): void {
    if (this.n === this.nums.length) {
      const bigger = new Float64Array(this.nums.length * 2);
      bigger.set(this.nums);
      this.nums = bigger;
    }
    this.nums[this.n++] = v;
  }

  /**
   * Changes whenever a string's id may have changed (the tables started afresh, or a rollback
   * forgot strings): an id remembered with the generation it was read in is valid while it lasts.
   */
  generation = 0;

  /** A string's id in the shared table (the string is sent with the batch when new). */
  strId(s: string): number {
    let id = this.strings.get(s);
    if (id === undefined) {
      id = this.strings.size + this.added;
      this.strings.set(s, id);
      this.newStrings.push(s);
    }
    return id;
  }

  /**
   * A new id for a string the caller has not seen before (or need not share): no lookup. Equal
   * strings may then have two ids, which only costs the table a copy.
   */
  addString(s: string): number {
    const id = this.strings.size + this.added++;
    this.newStrings.push(s);
    return id;
  }

  /** A string, as its id. */
  str(s: string): void {
    this.int(this.strId(s));
  }

  /** A string, as its UTF-8 bytes at [start, end) of the batch's text. */
  text(start: number, end: number): void {
    this.int(T_TEXT);
    this.int(start);
    this.int(end);
  }

  value(v: unknown, depth = 0): void {
    switch (typeof v) {
      case 'number':
        this.int(T_NUM);
        this.num(v);
        return;
      case 'string':
        this.int(T_STR);
        this.str(v);
        return;
      case 'boolean':
        this.int(v ? T_TRUE : T_FALSE);
        return;
      case 'undefined':
        if (depth === 0) throw new CodecRefusal('undefined');
        this.int(T_UNDEFINED);
        return;
      case 'object':
        break;
      default:
        throw new CodecRefusal(typeof v);
    }
    if (v === null) {
      this.int(T_NULL);
      return;
    }
    if (depth >= MAX_DEPTH) throw new CodecRefusal('too deep');
    if (Array.isArray(v)) {
      this.int(T_ARRAY);
      this.int(v.length);
      for (let i = 0; i < v.length; i++) {
        if (!(i in v) || v[i] === undefined) throw new CodecRefusal('array hole');
        this.value(v[i], depth + 1);
      }
      return;
    }
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) throw new CodecRefusal('not a plain object');
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    let node = this.root;
    for (let i = 0; i < keys.length; i++) node = this.shapeNext(node, keys[i]);
    this.int(T_OBJECT);
    this.int(this.shapeId(node));
    for (let i = 0; i < keys.length; i++) this.value(o[keys[i]], depth + 1);
  }

  /** The empty shape, where every object's keys start. */
  shapeRoot(): ShapeNode {
    return this.root;
  }

  /** The shape with one more key. */
  shapeNext(node: ShapeNode, key: string): ShapeNode {
    let next = node.next.get(key);
    if (next === undefined) {
      if (key === '__proto__') throw new CodecRefusal('__proto__');
      if (node.keys.length >= MAX_KEYS) throw new CodecRefusal('too many keys');
      next = shapeNode([...node.keys, key], node.dup || node.keys.includes(key));
      node.next.set(key, next);
    }
    return next;
  }

  /** The id of the shape ending at `node` (sent with the batch when new). */
  shapeId(node: ShapeNode): number {
    if (node.id < 0) {
      if (node.dup) throw new CodecRefusal('duplicate key');
      if (this.shapeCount >= MAX_SHAPES) throw new CodecRefusal('too many shapes');
      node.id = this.shapeCount++;
      this.newShapes.push([...node.keys]);
    }
    return node.id;
  }

  /** The batch written so far (its arrays are fresh, to be transferred); starts the next batch. */
  take(): EncodedBatch {
    const batch: EncodedBatch = {
      reset: this.reset,
      strings: this.newStrings,
      shapes: this.newShapes,
      ops: this.ops.slice(0, this.o),
      nums: this.nums.slice(0, this.n),
    };
    this.o = 0;
    this.n = 0;
    this.newStrings = [];
    this.newShapes = [];
    this.reset = false;
    if (this.strings.size + this.added >= MAX_STRINGS) {
      this.strings.clear();
      this.added = 0;
      this.root = shapeNode([], false);
      this.shapeCount = 0;
      this.reset = true;
      this.generation++;
    }
    this.mark();
    return batch;
  }

  private growOps(): void {
    const bigger = new Int32Array(this.ops.length * 2);
    bigger.set(this.ops);
    this.ops = bigger;
  }

  private pruneShapes(node: ShapeNode, keep: number): void {
    if (node.id >= keep) node.id = -1;
    for (const next of node.next.values()) this.pruneShapes(next, keep);
  }
}

type Builder = (d: ValueDecoder, ops: Int32Array, nums: Float64Array, strings: string[]) => Record<string, unknown>;

/**
 * Builds objects of one shape: an object literal with the keys in order, values read in order
 * (numbers and table strings read inline, anything else by `value`).
 */
function builder(keys: readonly string[]): Builder {
  const lines = ['let o = d.o;', 'let n = d.n;', 'let t = 0;'];
  keys.forEach((_, i) => {
    lines.push(
      `const v${i} = (t = ops[o++]) === ${T_NUM} ? nums[n++] : t === ${T_STR} ? strings[ops[o++]] : ((d.o = o - 1), (d.n = n), (t = d.value()), (o = d.o), (n = d.n), t);`,
    );
  });
  lines.push('d.o = o;', 'd.n = n;', `return {${keys.map((k, i) => `${JSON.stringify(k)}: v${i}`).join(', ')}};`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated on purpose: one straight-line object builder per key set (the replay's hot path)
  return new Function('d', 'ops', 'nums', 'strings', lines.join('\n')) as Builder;
}

export class ValueDecoder {
  private strings: string[] = [];
  private builders: Builder[] = [];
  private ops: Int32Array = new Int32Array(0);
  /** Read positions in ops and nums (the builders read and move them). */
  o = 0;
  private nums: Float64Array = new Float64Array(0);
  n = 0;
  private textBytes: Buffer = Buffer.alloc(0);

  /**
   * Takes a batch's tables and data, and the batch's text (for T_TEXT strings); read it with `int`,
   * `num`, `str` and `value` in the order it was written.
   */
  load(batch: EncodedBatch, text?: Buffer): void {
    this.textBytes = text ?? Buffer.alloc(0);
    if (batch.reset) {
      this.strings = [];
      this.builders = [];
    }
    for (const s of batch.strings) this.strings.push(s);
    for (const keys of batch.shapes) this.builders.push(builder(keys));
    this.ops = batch.ops;
    this.o = 0;
    this.nums = batch.nums;
    this.n = 0;
  }

  int(): number {
    return this.ops[this.o++];
  }

  num(): number {
    return this.nums[this.n++];
  }

  str(): string {
    return this.strings[this.ops[this.o++]];
  }

  value(): unknown {
    switch (this.ops[this.o++]) {
      case T_NUM:
        return this.nums[this.n++];
      case T_STR:
        return this.strings[this.ops[this.o++]];
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_NULL:
        return null;
      case T_UNDEFINED:
        return undefined;
      case T_ARRAY: {
        const len = this.ops[this.o++];
        const out = new Array(len);
        for (let i = 0; i < len; i++) out[i] = this.value();
        return out;
      }
      case T_OBJECT:
        return this.builders[this.ops[this.o++]](this, this.ops, this.nums, this.strings);
      case T_TEXT: {
        const start = this.ops[this.o++];
        return bytesToString(this.textBytes, start, this.ops[this.o++]);
      }
      default:
        throw new Error('corrupt encoded value');
    }
  }
}
