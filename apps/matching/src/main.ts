/**
 * matching: the sequencer of every instrument (SPEC §4, §5). Consumes matching-commands, runs each
 * command through its instrument's book and publishes the results on matching-events. Serves a
 * read of its books to operations and auditors (GET /books/:symbol).
 */
import { EffectivelyOnceProcessor, PG_AUTH_PORTS, refusalCounter, runService, servicePort, StreamHeads } from '@ch/runtime';
import { topicName } from '@ch/messages';
import { Sequencer } from './sequencer';
import { OrderProjection } from './order-projection';
import { BookReader, BooksController } from './books.controller';

void runService({
  name: 'matching',
  port: servicePort('MATCHING_PORT', 3101),
  platform: PG_AUTH_PORTS,
  metadata: { controllers: [BooksController], providers: [BookReader] },
  async start(infra, app) {
    const heads = new StreamHeads();
    let sequencer = new Sequencer(infra.ds, heads, infra.producer);
    await sequencer.recoverAll();
    app.get(BookReader).attach(sequencer);
    let projection = new OrderProjection();
    const processor = new EffectivelyOnceProcessor({
      name: 'matching',
      topics: [topicName('matchingCommands')],
      ds: infra.ds,
      bus: infra.bus,
      producer: infra.producer,
      heads,
      handle: (messages, ctx) => sequencer.handle(messages, ctx, projection),
      afterCommit: () => sequencer.afterCommit(),
      // After a failed batch the books are recovered from their snapshots and streams, as at start.
      reload: async () => {
        sequencer.abandon();
        const fresh = new Sequencer(infra.ds, heads, infra.producer);
        await fresh.recoverAll();
        sequencer = fresh;
        projection = new OrderProjection();
        app.get(BookReader).attach(fresh);
      },
      onRefused: refusalCounter(app),
    });
    await processor.start();
    return {
      async stop() {
        sequencer.stopTimers();
        await processor.stop();
      },
      ready: () => processor.ready,
    };
  },
});
