// Own file: nestjs-pino keeps its out-of-request logger in a module-level singleton (first app
// in the process wins), and this test checks a startup log line.
import { Controller, Module, Post } from '@nestjs/common';
import { bootstrapHttpService, PlatformModule, Roles } from './index';
import { CapturedLogs } from './testing';

@Controller('orders')
class OrdersController {
  @Post()
  @Roles('member')
  submit() {
    return { ok: true };
  }
}
@Module({ controllers: [OrdersController] })
class FeatureModule {}

describe('bootstrapHttpService (real listening socket on loopback)', () => {
  it('listens, serves /health and /docs-json, logs the docs URL, closes gracefully', async () => {
    const logs = new CapturedLogs();
    @Module({ imports: [PlatformModule.forRoot({ serviceName: 'boot-svc', logging: { stream: logs } }), FeatureModule] })
    class RootModule {}
    const app = await bootstrapHttpService(RootModule, { name: 'boot-svc', port: 0, swagger: { title: 'Boot', path: 'docs' } });
    try {
      const { port } = app.getHttpServer().address() as { port: number };
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      const doc = await fetch(`http://127.0.0.1:${port}/docs-json`);
      expect(((await doc.json()) as { info: { title: string } }).info.title).toBe('Boot');
      const denied = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST', headers: { 'x-api-key': 'chk_whatever' } });
      expect(denied.status).toBe(401);
      expect(logs.text).toContain(`boot-svc API docs at http://127.0.0.1:${port}/docs`);
    } finally {
      await app.close();
    }
  });
});
