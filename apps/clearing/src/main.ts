/**
 * clearing: novation, the trade register, positions and the cash ledger. Consumes
 * matching-events (trades) and clearing-commands (cash); publishes cash movements on
 * clearing-events.
 */
import { EffectivelyOnceProcessor, runService, servicePort, StreamHeads } from '@ch/runtime';
import { topicName } from '@ch/messages';
import { Clearing, CLEARING_STREAM } from './clearing';

void runService({
  name: 'clearing',
  port: servicePort('CLEARING_PORT', 3102),
  async start(infra) {
    const heads = new StreamHeads();
    await heads.load(infra.ds, [CLEARING_STREAM]);
    const clearing = new Clearing();
    await clearing.load(infra.ds);
    const processor = new EffectivelyOnceProcessor({
      name: 'clearing',
      topics: [topicName('matchingEvents'), topicName('clearingCommands')],
      ds: infra.ds,
      bus: infra.bus,
      producer: infra.producer,
      heads,
      handle: (messages, ctx) => clearing.handle(messages, ctx),
    });
    await processor.start();
    return { stop: () => processor.stop(), ready: () => processor.ready };
  },
});
