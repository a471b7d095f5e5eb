/**
 * CopyOut reads the socket itself while a COPY runs: whatever the chunking of the stream, every
 * row reaches the sink whole and in order (in place only inside chunkBegin/chunkDone, from that
 * chunk), every other message and whatever follows ReadyForQuery reaches pg's parser byte for byte
 * and in order, and the socket is pg's again afterwards.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { CopyOut, type RowSink, type Socket } from './log-copy';

function message(type: string, body: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type.charCodeAt(0);
  b.writeInt32BE(4 + body.length, 1);
  b.set(body, 5);
  return b;
}

describe('CopyOut', () => {
  it('hands rows to the sink and everything else to pg, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (rows, after, cuts, notice) => {
          const before = [message('H', Buffer.from([0, 0, 4]))];
          const middle = notice ? [message('N', Buffer.from('Snotice\0\0'))] : [];
          const stream = Buffer.concat([
            ...before,
            ...rows.slice(0, rows.length >> 1).map((r) => message('d', r)),
            ...middle,
            ...rows.slice(rows.length >> 1).map((r) => message('d', r)),
            message('c', Buffer.alloc(0)),
            message('C', Buffer.from('COPY 3\0')),
            message('Z', Buffer.from('I')),
            Buffer.from(after),
          ]);
          const toPg = Buffer.concat([
            ...before,
            ...middle,
            message('c', Buffer.alloc(0)),
            message('C', Buffer.from('COPY 3\0')),
            message('Z', Buffer.from('I')),
            Buffer.from(after),
          ]);

          const socket = new EventEmitter();
          const received: Buffer[] = [];
          const pg = (chunk: Buffer): void => {
            received.push(Buffer.from(chunk));
          };
          socket.on('data', pg);
          const got: Buffer[] = [];
          let current: Buffer | null = null;
          const sink: RowSink = {
            row(b, start, end, inPlace) {
              if (inPlace) expect(b).toBe(current);
              got.push(Buffer.from(b.subarray(start, end)));
            },
            chunkBegin(chunk) {
              expect(current).toBeNull();
              current = chunk;
            },
            chunkDone() {
              expect(current).not.toBeNull();
              current = null;
            },
          };
          const copy = new CopyOut('COPY x TO STDOUT', sink);
          copy.done.catch(() => undefined);
          const sent: string[] = [];
          copy.submit({ query: (text: string) => void sent.push(text), stream: socket as unknown as Socket });
          expect(sent).toEqual(['COPY x TO STDOUT']);
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length];
            socket.emit('data', stream.subarray(at, at + n));
            at += n;
          }
          expect(current).toBeNull();
          expect(got.map((b) => b.toString('hex'))).toEqual(rows.map((r) => Buffer.from(r).toString('hex')));
          expect(Buffer.concat(received).toString('hex')).toBe(toPg.toString('hex'));
          expect(socket.listeners('data')).toEqual([pg]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
