/**
 * risk: the pre-trade gate between order intake and matching, and every account's margin.
 * Consumes orders, matching-events and clearing-events; forwards accepted orders on
 * matching-commands and publishes rejections and margin calls on risk-events.
 */
import { EffectivelyOnceProcessor, refusalCounter, runService, servicePort, StreamHeads } from '@ch/runtime';
import { topicName } from '@ch/messages';
import { Risk, RISK_GATE_STREAM, RISK_STREAM } from './risk';

void runService({
  name: 'risk',
  port: servicePort('RISK_PORT', 3103),
  async start(infra, app) {
    const heads = new StreamHeads();
    await heads.load(infra.ds, [RISK_STREAM, RISK_GATE_STREAM]);
    let risk = new Risk();
    await risk.load(infra.ds);
    const processor = new EffectivelyOnceProcessor({
      name: 'risk',
      topics: [topicName('orders'), topicName('matchingEvents'), topicName('clearingEvents')],
      ds: infra.ds,
      bus: infra.bus,
      producer: infra.producer,
      heads,
      handle: (messages, ctx) => risk.handle(messages, ctx),
      // After a failed batch the replica is rebuilt from risk_state, as at start.
      reload: async () => {
        const fresh = new Risk();
        await fresh.load(infra.ds);
        risk = fresh;
      },
      onRefused: refusalCounter(app),
    });
    await processor.start();
    return { stop: () => processor.stop(), ready: () => processor.ready };
  },
});
