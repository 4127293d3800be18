/**
 * Run the HTTP service until SIGTERM/SIGINT (on the embedded indexes of the data folder, or with
 * --store as a query node on object storage): open the data folder, print a generated admin key
 * once, listen; on a signal stop taking requests (503 + readiness down), finish those in flight,
 * close every index cleanly and exit 0 (1 if draining took longer than shutdownTimeoutMs).
 */
import { buildService } from './app.js';
import { resolveConfig, type ServerConfig } from './config.js';

export async function runServer(flags: Partial<ServerConfig> = {}): Promise<void> {
  const config = resolveConfig(flags);
  // --store: a stateless query node on object storage (loaded only then: the AWS SDK is large).
  const service = config.store ? await (await import('./query-node.js')).buildQueryNode(config) : await buildService(config);
  const { app } = service;
  if (service.generatedAdminKey) {
    // Printed once, to the terminal only: the service keeps just its hash.
    process.stdout.write(
      `\nA new admin key was generated for ${config.dataDir} (shown only this once; set STRATA_ADMIN_KEY to use your own):\n\n  ${service.generatedAdminKey}\n\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'draining');
    const timer = setTimeout(() => {
      app.log.error('requests still in flight after the shutdown timeout; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    service.close().then(
      () => {
        clearTimeout(timer);
        process.exitCode = 0;
      },
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const address = await app.listen({ port: config.port, host: config.host });
  if (config.store) app.log.info({ address, store: config.store, cacheDir: config.cacheDir, node: (await import('./query-node.js')).nodeUrlOf(config), peers: config.peers || undefined, docs: `${address}/docs` }, 'strata query node is listening');
  else {
    app.log.info({ address, dataDir: config.dataDir, docs: `${address}/docs`, console: `${address}/console/` }, 'strata is listening');
    process.stdout.write(`\nWeb console: ${address}/console/ (sign in with an API key)\n\n`);
  }
}
