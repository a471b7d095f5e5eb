import { BadRequestException, type ValidationError, ValidationPipe, type ValidationPipeOptions } from '@nestjs/common';

/**
 * Thrown by the global ValidationPipe. Carries the first offending field; the exception filter
 * turns it into `400 { error: INVALID_ORDER | INVALID_REQUEST, message, field }` depending on
 * the route (see `@InvalidInputReason`).
 */
export class RequestValidationError extends BadRequestException {
  constructor(
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RequestValidationError';
  }
}

/** The first failing field (dotted path into nested objects/arrays) and its constraint messages. */
export function firstValidationFailure(errors: readonly ValidationError[]): { field?: string; message: string } {
  let current: ValidationError | undefined = errors[0];
  const path: string[] = [];
  while (current) {
    if (current.property !== undefined && current.property !== '') path.push(String(current.property));
    const constraints = current.constraints ?? {};
    const keys = Object.keys(constraints);
    if (keys.length > 0) {
      if (constraints.unknownValue !== undefined) {
        return withField(path, 'request body must be a JSON object');
      }
      // whitelist violations name the property already; others are "<property> must be ..."
      return withField(path, keys.map((k) => constraints[k]).join('; '));
    }
    current = current.children?.[0];
  }
  return withField(path, 'invalid request');
}

function withField(path: string[], message: string): { field?: string; message: string } {
  return path.length > 0 ? { field: path.join('.'), message } : { message };
}

export const VALIDATION_PIPE_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  // never echo submitted values (they may be secrets) or the target object into errors
  validationError: { target: false, value: false },
  exceptionFactory: (errors: ValidationError[]) => {
    const { field, message } = firstValidationFailure(errors);
    return new RequestValidationError(field, message);
  },
};

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe(VALIDATION_PIPE_OPTIONS);
}
