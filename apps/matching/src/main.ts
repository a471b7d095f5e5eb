/**
 * matching: the sequencer of every instrument (SPEC §4, §5). Consumes matching-commands, runs each
 * command through its instrument's book and publishes the results on matching-events.
 */
import { EffectivelyOnceProcessor, runService, servicePort, StreamHeads } from '@ch/runtime';
import { topicName } from '@ch/messages';
import { Sequencer } from './sequencer';
import { OrderProjection } from './order-projection';

void runService({
  name: 'matching',
  port: servicePort('MATCHING_PORT', 3101),
  async start(infra) {
    const heads = new StreamHeads();
    const sequencer = new Sequencer(infra.ds, heads, infra.producer);
    await sequencer.recoverAll();
    const projection = new OrderProjection();
    const processor = new EffectivelyOnceProcessor({
      name: 'matching',
      topics: [topicName('matchingCommands')],
      ds: infra.ds,
      bus: infra.bus,
      producer: infra.producer,
      heads,
      handle: (messages, ctx) => sequencer.handle(messages, ctx, projection),
      afterCommit: () => sequencer.armTimers(),
    });
    await processor.start();
    return {
      async stop() {
        sequencer.stopTimers();
        await processor.stop();
      },
    };
  },
});
