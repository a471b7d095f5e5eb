/**
 * The wire form of the events is owned by libs/messages (libs/messages/src/wire/codec.ts, ADR
 * 0019): conversion by each type's schema, a price's tick from its product. Re-exported for the
 * rulebook's callers.
 */
export { centsFromWire, decodeEvent, eventFromWire, eventToWire, fromWireLeaf, EVENT_CODEC, EventCodec } from '@ch/messages/wire/codec';
