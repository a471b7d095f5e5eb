/**
 * A read of the books as the sequencer holds them in memory: every resting order in priority order
 * (bids best price first, then asks best price first, oldest first within a price) and the ids the
 * next order and trade will get. For operations and auditors: it is how a recovery (snapshot +
 * tail of the log) is checked against the book that was running before.
 */
import { Controller, Get, Injectable, Param, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { EVENT_CODEC, formatInstant } from '@ch/messages';
import { API_KEY_SECURITY_NAME, DomainRejection, Roles } from '@ch/platform';
import type { Sequencer } from './sequencer';

/** The running sequencer, once the service has started it (the HTTP side starts first). */
@Injectable()
export class BookReader {
  private sequencer: Sequencer | null = null;

  attach(sequencer: Sequencer): void {
    this.sequencer = sequencer;
  }

  get(): Sequencer {
    if (!this.sequencer) throw new ServiceUnavailableException('matching is still recovering its books');
    return this.sequencer;
  }
}

@ApiTags('books')
@ApiSecurity(API_KEY_SECURITY_NAME)
@Controller('books')
export class BooksController {
  constructor(private readonly reader: BookReader) {}

  @Get(':symbol')
  @Roles('operations', 'auditor')
  @ApiOperation({ summary: 'The book of an instrument as matching holds it: resting orders in priority order, next order and trade ids, session state' })
  async book(@Param('symbol') symbol: string) {
    const sequencer = this.reader.get();
    // As of the last committed batch: never a batch's half-applied state.
    await sequencer.whenIdle();
    const engine = sequencer.bookOf(symbol);
    if (!engine) throw new DomainRejection('NOT_FOUND', `no book for ${symbol}`);
    const s = engine.snapshot();
    const band = engine.activeBand();
    // Prices in the product's tick, as the wire states them.
    const price = (ticks: number): string => EVENT_CODEC.priceToWire(symbol, ticks);
    return {
      symbol,
      referencePrice: price(s.referencePrice),
      sessionState: engine.sessionState(),
      band: { tier: band.tier, low: price(band.lo), high: price(band.hi) },
      halt: s.halt === null ? null : { tier: s.halt.tier, start: formatInstant(s.halt.start), end: s.halt.end === null ? null : formatInstant(s.halt.end) },
      time: s.lastAt ? formatInstant(s.lastAt) : null,
      nextOrderId: s.nextOrderId,
      nextTradeId: s.nextTradeId,
      lastPrice: s.lastTradePrice === null ? null : price(s.lastTradePrice),
      orders: s.orders.map((o) => ({
        orderId: o.orderId,
        account: o.account,
        clientOrderId: o.clientOrderId,
        side: o.side,
        tif: o.tif,
        price: price(o.price),
        openQty: o.openQty,
        filledQty: o.filledQty,
        acceptedAt: formatInstant(o.acceptedAt),
      })),
    };
  }
}
