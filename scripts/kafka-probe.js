#!/usr/bin/env node
// Is a ready Kafka broker answering? Used by scripts/kafka.sh; no dependencies (plain Kafka wire
// protocol over a socket), so it works before `npm ci` and starts in ~50 ms.
//
//   node scripts/kafka-probe.js [--cluster-id ID] host:port [host:port ...]
//
// For each address in turn: ApiVersions v0 (is it Kafka at all?) then Metadata v2 with no topics
// (has the broker joined its cluster: at least one live broker listed? which cluster?). Exit 0 and
// print a one-line summary at the first address that passes; exit 1 when none does; exit 3 when a
// ready broker answers but its cluster id is not the --cluster-id given (someone else's broker).
'use strict';
const net = require('net');

const TIMEOUT_MS = Number(process.env.KAFKA_PROBE_TIMEOUT_MS || 3000);

function request(apiKey, apiVersion, correlationId, body) {
  const clientId = Buffer.from('kafka-probe');
  const header = Buffer.alloc(2 + 2 + 4 + 2);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/** Sends the requests one after the other on one connection; resolves with the response bodies. */
function exchange(host, port, requests) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const responses = [];
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('timeout')), TIMEOUT_MS);
    function fail(err) {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    }
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    socket.on('connect', () => socket.write(requests[0]));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const len = buf.readInt32BE(0);
        responses.push(buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
        if (responses.length === requests.length) {
          clearTimeout(timer);
          socket.removeAllListeners('close');
          socket.destroy();
          resolve(responses);
          return;
        }
        socket.write(requests[responses.length]);
      }
    });
  });
}

async function probe(address) {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  if (!host || !Number.isInteger(port)) throw new Error(`bad address ${address}`);
  const noTopics = Buffer.alloc(4); // Metadata v2 topics array of length 0
  const [apiVersions, metadata] = await exchange(host, port, [request(18, 0, 1, Buffer.alloc(0)), request(3, 2, 2, noTopics)]);
  if (apiVersions.readInt32BE(0) !== 1) throw new Error('ApiVersions: bad correlation id');
  const errorCode = apiVersions.readInt16BE(4);
  if (errorCode !== 0) throw new Error(`ApiVersions error ${errorCode}`);
  const apiCount = apiVersions.readInt32BE(6);

  let o = 0;
  if (metadata.readInt32BE(o) !== 2) throw new Error('Metadata: bad correlation id');
  o += 4;
  const brokerCount = metadata.readInt32BE(o);
  o += 4;
  const brokers = [];
  for (let b = 0; b < brokerCount; b++) {
    const nodeId = metadata.readInt32BE(o);
    o += 4;
    const hostLen = metadata.readInt16BE(o);
    o += 2;
    const bHost = metadata.subarray(o, o + hostLen).toString();
    o += hostLen;
    const bPort = metadata.readInt32BE(o);
    o += 4;
    const rackLen = metadata.readInt16BE(o);
    o += 2 + Math.max(rackLen, 0);
    brokers.push(`${nodeId}@${bHost}:${bPort}`);
  }
  const clusterIdLen = metadata.readInt16BE(o);
  o += 2;
  const clusterId = clusterIdLen < 0 ? null : metadata.subarray(o, o + clusterIdLen).toString();
  o += Math.max(clusterIdLen, 0);
  const controllerId = metadata.readInt32BE(o);
  if (brokers.length === 0) throw new Error('no live brokers in metadata yet');
  return {
    clusterId,
    summary: `kafka at ${address}: cluster ${clusterId}, ${apiCount} APIs, brokers [${brokers.join(', ')}], controller ${controllerId}`,
  };
}

async function main() {
  const args = process.argv.slice(2);
  let wantedCluster = null;
  const i = args.indexOf('--cluster-id');
  if (i >= 0) wantedCluster = args.splice(i, 2)[1] || null;
  const addresses = args.map((a) => a.trim()).filter(Boolean);
  if (addresses.length === 0) {
    console.error('usage: kafka-probe.js [--cluster-id ID] host:port [host:port ...]');
    process.exit(2);
  }
  const errors = [];
  for (const address of addresses) {
    try {
      const { clusterId, summary } = await probe(address);
      if (wantedCluster && clusterId !== wantedCluster) {
        console.error(`${summary}: not cluster ${wantedCluster}`);
        process.exit(3);
      }
      console.log(summary);
      return;
    } catch (err) {
      errors.push(`${address}: ${err.message}`);
    }
  }
  console.error(`no ready Kafka broker: ${errors.join('; ')}`);
  process.exit(1);
}

main();
