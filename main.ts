import { type Config, settingsHelp } from "./domain/platform/config.ts";
import { closeKv, migrate, openKv } from "./domain/store/kv.ts";
import { SCHEMA_MIGRATIONS } from "./domain/smart_toy/migrations.ts";
import { startCaches, stopCaches } from "./domain/store/cache.ts";
import { createLogger, silentLogger } from "./domain/platform/log.ts";
import { Metrics } from "./domain/platform/metrics.ts";
import { RateLimiter } from "./domain/platform/rate_limit.ts";
import { createTranscoder } from "./domain/audio/transcoder.ts";
import { ensureBuiltinContent } from "./domain/smart_toy/content.ts";
import { createApp, type Feature } from "./routes/app.ts";
import type { AppDeps } from "./domain/platform/services.ts";
import type { SocketEndpoint } from "./realtime/endpoint.ts";
import { toyApiFeature } from "./routes/smart_toy/toy_api.ts";
import { adminFeature } from "./routes/admin.ts";
import { systemFeature } from "./routes/system.ts";
import { lobbyFeature } from "./routes/lobby.ts";
import { qrLoginFeature } from "./routes/qr_login.ts";
import { pagesFeature } from "./routes/pages.ts";
import { COMMAND_USAGE, runCli } from "./routes/cli/mod.ts";
import {
  configFrom,
  parseCommand,
  reportFailure,
  settingsOptions,
} from "./routes/cli/_args.ts";
import {
  adminSetupLink,
  ensureAdminToken,
} from "./domain/platform/admin_token.ts";
import { VERSION } from "./domain/platform/version.ts";
import { voiceFeature } from "./routes/smart_toy/voice_api.ts";
import { aiFeature } from "./routes/smart_toy/ai_api.ts";
import { MessageWriter } from "./domain/smart_toy/messages.ts";
import { Hub } from "./realtime/smart_toy/hub.ts";
import { toySocketsEndpoint } from "./realtime/smart_toy/sockets.ts";
import { diaryuFeature } from "./routes/diaryu.ts";
import { diaryuRoomEndpoint } from "./realtime/diaryu/room.ts";
import { lobbyEndpoint } from "./realtime/lobby/endpoint.ts";
import { qrLoginEndpoint } from "./realtime/qr_login/page_socket.ts";

/** Serves `handler` on the configured address; a taken port says how to choose another. */
function listen(
  config: Config,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  const tls = tlsOptions(config);
  try {
    return Deno.serve(
      {
        port: config.port,
        hostname: config.host,
        onListen: () => {},
        ...tls,
      },
      handler,
    );
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `port ${config.port} on ${config.host} is already in use: stop what ` +
          `is using it, or choose another with --port / BABBLE_PORT`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** The certificate and key of --tls-cert/--tls-key, read once; {} without TLS. */
function tlsOptions(config: Config): { cert?: string; key?: string } {
  if (!config.tlsCert && !config.tlsKey) return {};
  if (!config.tlsCert || !config.tlsKey) {
    throw new Error(
      "--tls-cert / BABBLE_TLS_CERT and --tls-key / BABBLE_TLS_KEY go together: set both, or neither",
    );
  }
  const read = (path: string, flag: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw new Error(
        `${flag} ${JSON.stringify(path)} cannot be read: ${
          err instanceof Error ? err.message : err
        }`,
        { cause: err },
      );
    }
  };
  return {
    cert: read(config.tlsCert, "--tls-cert"),
    key: read(config.tlsKey, "--tls-key"),
  };
}

/** A started server instance. */
export interface RunningServer {
  url: string;
  port: number;
  kv: Deno.Kv;
  deps: AppDeps;
  /** Stops accepting, lets in-flight requests finish, closes what it opened. */
  close(): Promise<void>;
}

/** Options of `startServer` for embedders (and tests). */
export interface StartOptions {
  /** An open store to use (and leave open) instead of opening `config.kv`. */
  kv?: Deno.Kv;
  /** Log nothing. */
  quiet?: boolean;
  /** The transcoder's worker module, when an embedder wraps the built-in one. */
  transcoderWorker?: URL;
}

/**
 * Starts one Babble instance: opens (or reuses) the KV store, migrates it,
 * seeds built-in content, and serves every feature on one port.
 */
export async function startServer(
  config: Config,
  { kv: givenKv, quiet = false, transcoderWorker }: StartOptions = {},
): Promise<RunningServer> {
  const log = quiet
    ? silentLogger
    : createLogger(config.logLevel, { format: config.logFormat });
  const kv = givenKv ?? await openKv(config.kv);
  const deps: AppDeps = {
    kv,
    config,
    log,
    metrics: new Metrics(),
    limiter: new RateLimiter(),
    transcoder: null,
  };
  const features: Feature[] = [];
  const endpoints: SocketEndpoint[] = [];
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    await migrate(kv, SCHEMA_MIGRATIONS);
    await ensureBuiltinContent(kv);
    startCaches(kv);
    deps.transcoder = createTranscoder({
      workers: config.transcodeWorkers,
      maxInputBytes: config.maxUploadBytes,
      workerUrl: transcoderWorker,
      metrics: deps.metrics,
    });
    endpoints.push(
      toySocketsEndpoint(deps, new Hub(kv, log, deps.metrics)),
      lobbyEndpoint(deps),
      qrLoginEndpoint(deps),
      diaryuRoomEndpoint(deps),
    );
    features.push(
      systemFeature(deps),
      adminFeature(deps),
      toyApiFeature(),
      voiceFeature(deps, new MessageWriter(kv, { metrics: deps.metrics })),
      aiFeature(deps),
      lobbyFeature(deps),
      qrLoginFeature(deps),
      await diaryuFeature(deps),
      pagesFeature(deps),
    );
    const app = createApp(deps, features);
    server = listen(config, (req, info) => {
      // Parsed once here, not once per endpoint: every request passes.
      const path = new URL(req.url).pathname;
      for (const endpoint of endpoints) {
        const res = endpoint.handle(req, info, path);
        if (res) return res;
      }
      return app.fetch(req, info);
    });
  } catch (err) {
    // Close what was opened before the failure, so a failed start leaks nothing.
    for (const part of [...endpoints, ...features]) await part.close?.();
    await deps.transcoder?.close();
    await stopCaches(kv);
    if (!givenKv) closeKv(kv);
    throw err;
  }
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname === "0.0.0.0" ? "localhost" : addr.hostname;
  const scheme = config.tlsCert ? "https" : "http";
  const url = `${scheme}://${host}:${addr.port}`;
  log.info("listening", { url, kv: config.kv });
  let closing: Promise<void> | undefined;
  return {
    url,
    port: addr.port,
    kv,
    deps,
    close() {
      closing ??= (async () => {
        for (const part of [...endpoints, ...features]) await part.close?.();
        await server.shutdown();
        await deps.transcoder?.close();
        await stopCaches(kv);
        if (!givenKv) {
          closeKv(kv);
          // Closing the store ends the `kv.watch` reads still under way
          // (cancelling a watch stream does not): let them finish before
          // close resolves, so nothing of this server outlives it.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      })();
      return closing;
    },
  };
}

const HELP = `babble ${VERSION} — the Babble server

usage: babble [serve] [options]
${COMMAND_USAGE}
       babble --version
       babble <command> --help

On first start without --admin-token, Babble makes an admin token, keeps
only its hash, and prints the admin page's link with it once;
babble admin reset-token makes a new one.

serve options (flag, environment variable, meaning):
${settingsHelp()}
`;

/** `babble serve`: runs the server until SIGINT/SIGTERM; prints the admin setup link on first start. */
async function serve(args: string[]): Promise<void> {
  const { values } = parseCommand(args, settingsOptions(), { usage: HELP });
  const { help: _, ...flags } = values;
  const config = configFrom(flags);
  const server = await startServer(config);
  // Listening for signals before saying so: a supervisor may stop us at once.
  const stop = async () => {
    await server.close();
    console.log("Babble has shut down");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  console.log(`Babble is serving on ${server.url}`);
  if (!config.adminToken) {
    // Printed here, not logged: the token must not reach a log collector.
    const token = await ensureAdminToken(server.kv);
    if (token) {
      const link = adminSetupLink(server.port, token, {
        https: server.url.startsWith("https:"),
      });
      console.log(
        `First start: manage Babble at this link (shown once; it holds the ` +
          `admin token):\n  ${link}`,
      );
    } else {
      console.log(
        "An admin token exists; babble admin reset-token makes a new one.",
      );
    }
  }
}

/**
 * Entry point: `--version`, `--help`, `serve` (the default) or a
 * subcommand. Resolves to the exit code, or -1 while the server runs.
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--version" || command === "-V") {
    console.log(`babble ${VERSION}`);
    return 0;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(HELP);
    return 0;
  }
  if (command === undefined || command.startsWith("-") || command === "serve") {
    const serveArgs = command === "serve" ? rest : args;
    if (serveArgs.includes("--help") || serveArgs.includes("-h")) {
      console.log(HELP);
      return 0;
    }
    await serve(serveArgs);
    return -1;
  }
  return await runCli(args);
}

if (import.meta.main) {
  try {
    const code = await main(Deno.args);
    if (code >= 0) Deno.exit(code);
  } catch (err) {
    Deno.exit(reportFailure(err));
  }
}
