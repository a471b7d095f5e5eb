/**
 * risk: the pre-trade gate between order intake and matching, and every account's margin.
 * Consumes orders, matching-events and clearing-events; forwards accepted orders on
 * matching-commands and publishes rejections and margin calls on risk-events.
 */
import { EffectivelyOnceProcessor, runService, servicePort, StreamHeads } from '@ch/runtime';
import { topicName } from '@ch/messages';
import { Risk, RISK_GATE_STREAM, RISK_STREAM } from './risk';

void runService({
  name: 'risk',
  port: servicePort('RISK_PORT', 3103),
  async start(infra) {
    const heads = new StreamHeads();
    await heads.load(infra.ds, [RISK_STREAM, RISK_GATE_STREAM]);
    const risk = new Risk();
    await risk.load(infra.ds);
    const processor = new EffectivelyOnceProcessor({
      name: 'risk',
      topics: [topicName('orders'), topicName('matchingEvents'), topicName('clearingEvents')],
      ds: infra.ds,
      bus: infra.bus,
      producer: infra.producer,
      heads,
      handle: (messages, ctx) => risk.handle(messages, ctx),
    });
    await processor.start();
    return { stop: () => processor.stop(), ready: () => processor.ready };
  },
});
