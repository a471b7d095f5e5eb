import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiProperty, ApiPropertyOptional, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { GENERIC_ERROR_CODES, REJECTION_REASONS, SERVER_ERROR_CODES } from '../errors/reasons';

export interface SwaggerSetupOptions {
  title: string;
  description?: string;
  version?: string;
  /** UI at `/<path>`, OpenAPI JSON at `/<path>-json`. Default 'docs'. */
  path?: string;
}

/** The error body, for `@ApiResponse({ status: 422, type: ErrorResponseDto })`. */
export class ErrorResponseDto {
  @ApiProperty({ enum: [...REJECTION_REASONS, ...GENERIC_ERROR_CODES, ...SERVER_ERROR_CODES], example: 'INSUFFICIENT_MARGIN' })
  error!: string;

  @ApiProperty({ example: 'initial margin 1520.00 exceeds available collateral 1000.00' })
  message!: string;

  @ApiPropertyOptional({ description: 'First offending field (dotted path), for INVALID_* errors', example: 'qty' })
  field?: string;

  @ApiPropertyOptional({
    description: 'Particulars of a business refusal, e.g. INDEX_NOT_PUBLISHED: { code: "TOO_FEW_PROVIDERS", qualifiedCount: 3 }',
    type: 'object',
    additionalProperties: true,
  })
  details?: Record<string, unknown>;
}

export const API_KEY_SECURITY_NAME = 'api-key';

/**
 * OpenAPI document at `/<path>-json` and Swagger UI at `/<path>`. The UI's static files are
 * served from `swagger-ui-dist` (a dependency of @nestjs/swagger) by a fixed whitelist, so
 * @fastify/static is not needed. Call before `app.init()`/`listen()`.
 */
export function setupSwagger(app: NestFastifyApplication, options: SwaggerSetupOptions): string {
  const path = (options.path ?? 'docs').replace(/^\/+|\/+$/g, '');
  const config = new DocumentBuilder()
    .setTitle(options.title)
    .setDescription(options.description ?? '')
    .setVersion(options.version ?? '1.0')
    .addApiKey({ type: 'apiKey', name: 'x-api-key', in: 'header', description: 'API key (role member, operations or auditor)' }, API_KEY_SECURITY_NAME)
    .addSecurityRequirements(API_KEY_SECURITY_NAME)
    .build();
  SwaggerModule.setup(path, app, () => SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponseDto] }), {
    ui: false,
    raw: ['json'],
  });
  serveSwaggerUi(app, path, options.title);
  return `/${path}`;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

function swaggerUiDistDir(): string {
  const fromSwagger = dirname(require.resolve('@nestjs/swagger'));
  return dirname(require.resolve('swagger-ui-dist/package.json', { paths: [fromSwagger] }));
}

function serveSwaggerUi(app: NestFastifyApplication, path: string, title: string): void {
  const dir = swaggerUiDistDir();
  const assets = new Map<string, string>();
  for (const file of readdirSync(dir)) {
    const ext = file.slice(file.lastIndexOf('.'));
    if (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file) && CONTENT_TYPES[ext] && file !== 'absolute-path.js' && file !== 'index.js') {
      assets.set(file, ext);
    }
  }
  const cache = new Map<string, Buffer>();
  const html = swaggerHtml(path, title);
  const fastify = app.getHttpAdapter().getInstance();

  const page = (_req: unknown, reply: { type(t: string): { send(b: string): unknown } }) => reply.type('text/html; charset=utf-8').send(html);
  fastify.get(`/${path}`, page);
  fastify.get(`/${path}/`, page);
  fastify.get<{ Params: { asset: string } }>(`/${path}/:asset`, (req, reply) => {
    const ext = assets.get(req.params.asset);
    if (!ext) return reply.code(404).type('application/json; charset=utf-8').send({ error: 'NOT_FOUND', message: 'no such route' });
    let body = cache.get(req.params.asset);
    if (!body) {
      body = readFileSync(join(dir, req.params.asset));
      cache.set(req.params.asset, body);
    }
    return reply.type(CONTENT_TYPES[ext]).header('cache-control', 'public, max-age=3600').send(body);
  });
}

function swaggerHtml(path: string, title: string): string {
  const esc = title.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc}</title><link rel="stylesheet" href="/${path}/swagger-ui.css"></head>
<body>
<div id="swagger-ui"></div>
<script src="/${path}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/${path}-json', dom_id: '#swagger-ui', persistAuthorization: false });</script>
</body>
</html>
`;
}
