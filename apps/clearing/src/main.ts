/**
 * clearing: novation, the trade register, positions and the cash ledger. Consumes
 * matching-events (trades) and clearing-commands (cash); publishes cash movements on
 * clearing-events. Also anchors the event log's hash chain outside the database (signed
 * checkpoints on the anchors topic and in the anchors file, ADR 0013).
 */
import { EffectivelyOnceProcessor, refusalCounter, runService, servicePort, startAnchoring, StreamHeads } from '@ch/runtime';
import { topicName } from '@ch/messages';
import { Clearing, CLEARING_STREAM } from './clearing';

void runService({
  name: 'clearing',
  port: servicePort('CLEARING_PORT', 3102),
  async start(infra, app) {
    const heads = new StreamHeads();
    await heads.load(infra.ds, [CLEARING_STREAM]);
    let clearing = new Clearing();
    await clearing.load(infra.ds);
    const processor = new EffectivelyOnceProcessor({
      name: 'clearing',
      topics: [topicName('matchingEvents'), topicName('clearingCommands')],
      ds: infra.ds,
      bus: infra.bus,
      producer: infra.producer,
      heads,
      handle: (messages, ctx) => clearing.handle(messages, ctx),
      reload: async () => {
        const fresh = new Clearing();
        await fresh.load(infra.ds);
        clearing = fresh;
      },
      onRefused: refusalCounter(app),
    });
    await processor.start();
    const anchorer = await startAnchoring({ db: infra.ds, producer: infra.producer, topic: topicName('anchors'), service: 'clearing' });
    return {
      stop: async () => {
        await anchorer?.stop();
        await processor.stop();
      },
      ready: () => processor.ready,
    };
  },
});
