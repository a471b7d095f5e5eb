/**
 * clearing: novation, the trade register, positions and the cash ledger. Consumes
 * matching-events (trades) and clearing-commands (cash); publishes cash movements on
 * clearing-events.
 */
import { EffectivelyOnceProcessor, refusalCounter, runService, servicePort, StreamHeads } from '@ch/runtime';
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
    return { stop: () => processor.stop(), ready: () => processor.ready };
  },
});
