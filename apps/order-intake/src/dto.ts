/**
 * Request bodies. class-validator checks the form (the platform turns a failure into 400 with the
 * field); the tick and the market/limit combinations are checked by the rulebook's shared
 * validateOrderFields, so the API and the scenario runner refuse the same inputs alike.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_CASH_AMOUNT_TEXT, MAX_LOTS, MAX_PRICE_TEXT } from '@ch/domain';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const DECIMAL = /^\d{1,15}(\.\d+)?$/;

export class SubmitOrderDto {
  @ApiProperty({ example: 'M1-H' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  account!: string;

  @ApiProperty({
    example: 'o-1',
    description:
      'Unique per account; a retry with the same id and content creates nothing, logs nothing and answers the original outcome at once (with wait=true too)',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  clientOrderId!: string;

  @ApiProperty({ example: 'SIT-2027-03' })
  @IsString()
  @MaxLength(32)
  instrument!: string;

  @ApiProperty({ enum: ['buy', 'sell'] })
  @IsIn(['buy', 'sell'])
  side!: 'buy' | 'sell';

  @ApiProperty({ enum: ['limit', 'market'] })
  @IsIn(['limit', 'market'])
  type!: 'limit' | 'market';

  @ApiPropertyOptional({ example: '2.00', description: `Decimal string, at most ${MAX_PRICE_TEXT}; required for limit orders, absent for market orders` })
  @IsOptional()
  @IsString()
  @Matches(DECIMAL)
  price?: string;

  @ApiProperty({ example: 10, description: 'Whole lots', maximum: MAX_LOTS })
  @IsInt()
  @Min(1)
  @Max(MAX_LOTS)
  qty!: number;

  @ApiPropertyOptional({ enum: ['GTC', 'DAY', 'IOC', 'FOK'], description: 'Default GTC; market orders are IOC' })
  @IsOptional()
  @IsIn(['GTC', 'DAY', 'IOC', 'FOK'])
  tif?: 'GTC' | 'DAY' | 'IOC' | 'FOK';
}

export class CancelOrderDto {
  @ApiProperty({ example: 'M1-H' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  account!: string;
}

export class ReplaceOrderDto {
  @ApiProperty({ example: 'M1-H' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  account!: string;

  @ApiProperty({ example: '2.01', description: `Decimal string, at most ${MAX_PRICE_TEXT}` })
  @IsString()
  @Matches(DECIMAL)
  price!: string;

  @ApiProperty({ example: 5, description: 'The new open quantity', maximum: MAX_LOTS })
  @IsInt()
  @Min(1)
  @Max(MAX_LOTS)
  qty!: number;
}

export class CreateMemberDto {
  @ApiProperty({ example: 'M1' })
  @IsString()
  @MinLength(1)
  @MaxLength(32)
  @Matches(ID)
  memberId!: string;

  @ApiPropertyOptional({ example: 'Member One LLC' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @ApiProperty({ example: ['M1-H', 'M1-C'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @Matches(ID, { each: true })
  @MaxLength(64, { each: true })
  accounts!: string[];
}

export class ListInstrumentDto {
  @ApiProperty({ example: 'SIT-2027-03' })
  @IsString()
  @MaxLength(32)
  symbol!: string;

  @ApiPropertyOptional({
    example: '2.00',
    description:
      'Listing reference price (the first session’s price-limit reference and margin price), at most ' +
      MAX_PRICE_TEXT +
      '. Absent: the product’s latest index value (TPI for SIT, GCI for SCU) at or before the listing’s event time, rounded half up to the tick (422 INVALID_REQUEST, field referencePrice, when none is published)',
  })
  @IsOptional()
  @IsString()
  @Matches(DECIMAL)
  referencePrice?: string;
}

export class DepositDto {
  @ApiProperty({ example: 'M1-H' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  account!: string;

  @ApiProperty({
    example: '100000.00',
    description: `Dollars in whole cents, at most ${MAX_CASH_AMOUNT_TEXT}; refused (DepositRejected) if the account's balance would pass ${MAX_CASH_AMOUNT_TEXT}`,
  })
  @IsString()
  @Matches(DECIMAL)
  amount!: string;
}

export class WithdrawalDto {
  @ApiProperty({ example: '250.00', description: `Cash to withdraw, in dollars (at most two decimals), at most ${MAX_CASH_AMOUNT_TEXT}` })
  @IsString()
  @Matches(DECIMAL)
  amount!: string;
}

export class EndOfDayDto {
  @ApiProperty({ example: '2027-01-04', description: 'The trade date to settle' })
  @IsString()
  @Matches(/^\d{4}-\d{2}-\d{2}$/)
  tradeDate!: string;

  @ApiPropertyOptional({
    example: { 'SIT-2027-03': { price: '2.10', reason: 'no representative trades' } },
    description: 'Settlement price overrides per instrument, each with a reason',
  })
  @IsOptional()
  @IsObject()
  overrides?: Record<string, { price: string; reason: string }>;
}

export class PublishIndexDto {
  @ApiProperty({
    description:
      'Provider inputs, as the SPEC §10 `index` command. TPI: {provider, price (USD per million tokens, decimal string, at most 100000), volume (decimal string, at most 10^15), mmlu, humaneval, gsm8k (0-100)}; GCI: {provider, gpu, price (USD per GPU-hour, decimal string, at most 100000), volume (decimal string, at most 10^15)}',
    example: [
      { provider: 'A', price: '2.00', volume: '5000', mmlu: 86, humaneval: 67, gsm8k: 92 },
      { provider: 'B', price: '3.00', volume: '2000', mmlu: 90, humaneval: 70, gsm8k: 95 },
    ],
    type: 'array',
    items: { type: 'object', additionalProperties: true },
  })
  @IsArray()
  @ArrayMaxSize(1000)
  @IsObject({ each: true })
  providers!: Record<string, unknown>[];
}

const PRODUCT = /^[A-Z][A-Z0-9]{1,9}$/;

export class HedgeExemptionDto {
  @ApiProperty({ example: 'M1-H' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  account!: string;

  @ApiProperty({ example: 'SIT', description: 'Product code (SIT, SCU)' })
  @IsString()
  @Matches(PRODUCT)
  product!: string;

  // SPEC §17: both required; per scope the effective limit is the larger of the account's limit and this.
  @ApiProperty({ example: 5000, description: 'All months combined (net worst case), whole lots', maximum: MAX_LOTS })
  @IsInt()
  @Min(1)
  @Max(MAX_LOTS)
  allMonths!: number;

  @ApiProperty({ example: 2000, description: 'Spot month, whole lots', maximum: MAX_LOTS })
  @IsInt()
  @Min(1)
  @Max(MAX_LOTS)
  spotMonth!: number;
}

export class PositionLimitsDto {
  @ApiProperty({ example: 'M1-H' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(ID)
  account!: string;

  @ApiProperty({ example: 'SIT', description: 'Product code (SIT, SCU)' })
  @IsString()
  @Matches(PRODUCT)
  product!: string;

  // Absent: unchanged. Null is not absent (IsOptional would let it through): it is refused as any non-lot value.
  @ApiPropertyOptional({
    example: 20000,
    description: 'All months combined (net worst case), whole lots; absent: unchanged; not below spotMonth',
    maximum: MAX_LOTS,
  })
  @ValidateIf((_o, v) => v !== undefined)
  @IsInt()
  @Min(1)
  @Max(MAX_LOTS)
  allMonths?: number;

  @ApiPropertyOptional({
    example: 5000,
    description: 'Spot month (the contract whose last trading day comes next), whole lots; absent: unchanged; not above allMonths',
    maximum: MAX_LOTS,
  })
  @ValidateIf((_o, v) => v !== undefined)
  @IsInt()
  @Min(1)
  @Max(MAX_LOTS)
  spotMonth?: number;
}
