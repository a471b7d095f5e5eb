/**
 * Every migration of the clearinghouse database, in order.
 *
 * To add one: create `<epoch-ms>-<what>.ts` in this folder exporting a class named
 * `<Name><epoch-ms>` (TypeORM orders by that timestamp) that implements MigrationInterface with
 * raw SQL, and append the class to MIGRATIONS below. Classes are imported explicitly (no glob)
 * so the same list works from ts-jest (TypeScript sources) and from compiled dist/ JavaScript.
 * Never edit a migration that has been merged; write a new one.
 */
import type { MigrationInterface } from 'typeorm';
import { EventLogBase1767225600000 } from './1767225600000-event-log-base';
import { Projections1767312000000 } from './1767312000000-projections';
import { Halts1767398400000 } from './1767398400000-halts';
import { EndOfDay1767484800000 } from './1767484800000-end-of-day';
import { OutstandingCalls1767571200000 } from './1767571200000-outstanding-calls';
import { IndicesAndExpiry1767657600000 } from './1767657600000-indices-and-expiry';
import { EodCutoffs1767744000000 } from './1767744000000-eod-cutoffs';
import { EventLogJsonPayload1767830400000 } from './1767830400000-event-log-json-payload';
import { DataOwnership1767916800000 } from './1767916800000-data-ownership';

export const MIGRATIONS: (new () => MigrationInterface)[] = [
  EventLogBase1767225600000,
  Projections1767312000000,
  Halts1767398400000,
  EndOfDay1767484800000,
  OutstandingCalls1767571200000,
  IndicesAndExpiry1767657600000,
  EodCutoffs1767744000000,
  EventLogJsonPayload1767830400000,
  DataOwnership1767916800000,
];
