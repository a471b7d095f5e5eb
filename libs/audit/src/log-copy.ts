/**
 * COPY ... TO STDOUT through pg's client (log-reader.worker.ts): a custom query object (pg calls its
 * handle* methods) that, while the COPY runs, also reads the socket itself so that each row reaches
 * the reader in place, without the objects pg's parser makes per message.
 */

/**
 * Where the rows go. `row`: one row at b[start, end); `inPlace` when b is the socket's chunk, whose
 * bytes stay where they are until `chunkDone` (so the sink may copy them in bulk then); otherwise
 * b is a copy valid only during the call. `chunkBegin`/`chunkDone` bracket the rows read in place
 * from one chunk.
 */
export interface RowSink {
  row(b: Buffer, start: number, end: number, inPlace: boolean): void;
  chunkBegin(chunk: Buffer): void;
  chunkDone(): void;
}

type DataListener = (chunk: Buffer) => void;
export interface Socket {
  listeners(event: 'data'): DataListener[];
  on(event: 'data', listener: DataListener): void;
  removeListener(event: 'data', listener: DataListener): void;
}

const COPY_DATA = 0x64; // 'd'
const READY_FOR_QUERY = 0x5a; // 'Z'

/**
 * A COPY ... TO STDOUT run through pg's client as a custom query (pg calls the handle* methods).
 * While it runs it also takes the socket's data from pg's parser (when that is the socket's only
 * listener): CopyData messages, one per row, are handed to the sink in place, without the message
 * and buffer objects pg would make for each; every other message goes to pg's parser as it comes,
 * and from ReadyForQuery on the socket is pg's again.
 */
export class CopyOut {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  private failed = false;
  private socket: Socket | null = null;
  private pgListener: DataListener | null = null;
  /** A message split across socket chunks, and how much of it has come. */
  private carry = Buffer.allocUnsafe(1 << 16);
  private carried = 0;

  constructor(
    readonly text: string,
    private readonly sink: RowSink,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: { query(text: string): void; stream: Socket }): void {
    connection.query(this.text);
    // The client is idle (this query is the only one): pg's parser holds nothing half read.
    const socket = connection.stream;
    const listeners = socket.listeners('data');
    if (listeners.length === 1) {
      this.socket = socket;
      this.pgListener = listeners[0];
      socket.removeListener('data', this.pgListener);
      socket.on('data', this.tap);
    }
  }

  private row(b: Buffer, start: number, end: number, inPlace: boolean): void {
    if (this.failed) return;
    try {
      this.sink.row(b, start, end, inPlace);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fail(err: Error): void {
    this.failed = true;
    this.reject(err);
  }

  /** The socket's data while the COPY runs. */
  private readonly tap = (chunk: Buffer): void => {
    let p = 0;
    const n = chunk.length;
    if (this.carried > 0) {
      // Finish the message the last chunk ended in.
      const need = (): number => (this.carried < 5 ? 5 : 1 + this.carry.readInt32BE(1));
      while (this.carried < need() && p < n) {
        const take = Math.min(need() - this.carried, n - p);
        this.keep(chunk, p, p + take);
        p += take;
      }
      if (this.carried < need()) return;
      const total = this.carried;
      this.carried = 0;
      if (this.message(this.carry, 0, total, false)) return this.handBack(chunk, p);
    }
    this.sink.chunkBegin(chunk);
    try {
      while (p + 5 <= n) {
        const total = 1 + chunk.readInt32BE(p + 1);
        if (p + total > n) break;
        if (this.message(chunk, p, p + total, true)) {
          this.sink.chunkDone();
          return this.handBack(chunk, p + total);
        }
        p += total;
      }
      this.sink.chunkDone();
    } catch (err) {
      this.fail(err as Error);
    }
    if (p < n) this.keep(chunk, p, n);
  };

  /** One whole message at b[start, end); true when it was ReadyForQuery (the COPY is over). */
  private message(b: Buffer, start: number, end: number, inPlace: boolean): boolean {
    const type = b[start];
    if (type === COPY_DATA) {
      this.row(b, start + 5, end, inPlace);
      return false;
    }
    // Copied: pg's parser may keep what it is given beyond this call.
    this.pgListener!(Buffer.from(b.subarray(start, end)));
    return type === READY_FOR_QUERY;
  }

  private keep(b: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.carried + n > this.carry.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.carry.length * 2, this.carried + n));
      this.carry.copy(bigger, 0, 0, this.carried);
      this.carry = bigger;
    }
    b.copy(this.carry, this.carried, start, end);
    this.carried += n;
  }

  /** The socket back to pg, with whatever followed ReadyForQuery. */
  private handBack(chunk: Buffer, from: number): void {
    const socket = this.socket!;
    const pg = this.pgListener!;
    socket.removeListener('data', this.tap);
    socket.on('data', pg);
    this.socket = null;
    if (from < chunk.length) pg(chunk.subarray(from));
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    this.row(msg.chunk, 0, msg.chunk.length, false);
  }

  handleError(err: Error): void {
    this.failed = true;
    this.reject(err);
  }

  handleReadyForQuery(): void {
    if (!this.failed) this.resolve();
  }

  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail('the log reader does not copy in');
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}
