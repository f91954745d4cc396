import type { LobbyHub, LobbyPeer } from "./hub.ts";
import { INVALID_JSON, lobbyErrorReply } from "../../domain/lobby/envelope.ts";

/**
 * The lobby's raw TCP socket API (seed 003). Out: one JSON object per line.
 * In: a stream of JSON objects, with or without newlines between them, cut
 * into segments however TCP likes; `JsonObjectSplitter` finds where each
 * object ends. Every buffer is bounded: an object above `maxObjectBytes` is
 * answered with an error and skipped, and a client that does not read its
 * replies is disconnected once `maxBufferedBytes` are waiting.
 */

/** What the splitter found in the stream. */
export type SplitItem =
  | { kind: "object"; text: string }
  | { kind: "invalid" }
  | { kind: "too_large" };

/** Options of `JsonObjectSplitter`. */
export interface SplitterOptions {
  /** Largest object, in UTF-8 bytes (default 64 KiB). */
  maxObjectBytes?: number;
}

type Mode = "between" | "object" | "garbage" | "discard";

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * Splits a byte stream into top-level JSON object texts, tracking braces,
 * strings and escapes across chunk boundaries (and UTF-8 sequences split
 * between chunks). It does not validate the objects: JSON.parse does that.
 *
 * Recovery: text outside an object is reported once as "invalid" at the
 * next newline or `{`; a raw newline inside a string (never valid JSON)
 * ends the object as "invalid"; an object past `maxObjectBytes` is reported
 * as "too_large" and skipped up to its end or the next newline, whichever
 * comes first.
 */
export class JsonObjectSplitter {
  readonly maxObjectBytes: number;
  #decoder = new TextDecoder();
  #mode: Mode = "between";
  #parts: string[] = [];
  #bytes = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor({ maxObjectBytes = 64 * 1024 }: SplitterOptions = {}) {
    this.maxObjectBytes = maxObjectBytes;
  }

  /** Feeds one chunk; returns what ended inside it, in order. */
  push(chunk: Uint8Array): SplitItem[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    const out: SplitItem[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      switch (this.#mode) {
        case "between":
          if (ch === OPEN) {
            this.#open();
            start = i;
          } else if (!isSpace(ch)) {
            this.#mode = "garbage";
          }
          break;
        case "garbage":
          if (ch === NEWLINE || ch === OPEN) {
            out.push({ kind: "invalid" });
            this.#mode = "between";
            if (ch === OPEN) {
              this.#open();
              start = i;
            }
          }
          break;
        case "object":
          this.#bytes += utf8Length(ch);
          if (this.#bytes > this.maxObjectBytes) {
            out.push({ kind: "too_large" });
            this.#parts = [];
            this.#mode = "discard";
            this.#discard(ch);
          } else if (this.#inString && ch === NEWLINE) {
            out.push({ kind: "invalid" });
            this.#parts = [];
            this.#mode = "between";
          } else {
            this.#track(ch);
            if (this.#depth === 0) {
              this.#parts.push(text.slice(start, i + 1));
              out.push({ kind: "object", text: this.#parts.join("") });
              this.#parts = [];
              this.#mode = "between";
            }
          }
          break;
        case "discard":
          this.#discard(ch);
          break;
      }
    }
    if (this.#mode === "object") this.#parts.push(text.slice(start));
    return out;
  }

  #open(): void {
    this.#mode = "object";
    this.#parts = [];
    this.#bytes = 1;
    this.#depth = 1;
    this.#inString = false;
    this.#escaped = false;
  }

  /** Skips an oversized object: up to its end or a newline. */
  #discard(ch: number): void {
    if (ch === NEWLINE) {
      this.#mode = "between";
      return;
    }
    this.#track(ch);
    if (this.#depth === 0) this.#mode = "between";
  }

  #track(ch: number): void {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (ch === BACKSLASH) this.#escaped = true;
      else if (ch === QUOTE) this.#inString = false;
    } else if (ch === QUOTE) {
      this.#inString = true;
    } else if (ch === OPEN) {
      this.#depth++;
    } else if (ch === CLOSE) {
      this.#depth--;
    }
  }
}

function isSpace(ch: number): boolean {
  return ch === 0x20 || ch === NEWLINE || ch === 0x0d || ch === 0x09 ||
    ch === 0xfeff;
}

/** UTF-8 bytes of one UTF-16 code unit (a surrogate pair counts 2 + 2). */
function utf8Length(ch: number): number {
  if (ch < 0x80) return 1;
  if (ch < 0x800 || (ch >= 0xd800 && ch <= 0xdfff)) return 2;
  return 3;
}

const encoder = new TextEncoder();

/** A TCP connection as a lobby peer: newline-delimited JSON out, a bounded write queue. */
export class TcpPeer implements LobbyPeer {
  readonly #conn: Deno.Conn;
  readonly #maxBuffered: number;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #closed = false;
  #writing = false;
  #pump: Promise<void> = Promise.resolve();

  constructor(conn: Deno.Conn, maxBufferedBytes: number) {
    this.#conn = conn;
    this.#maxBuffered = maxBufferedBytes;
  }

  /** True until closed. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Queues one line; closes the connection when the queue passes its bound. */
  send(frame: unknown): boolean {
    if (this.#closed) return false;
    const bytes = encoder.encode(JSON.stringify(frame) + "\n");
    if (this.#queuedBytes + bytes.length > this.#maxBuffered) {
      this.close();
      return false;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (!this.#writing) {
      this.#writing = true;
      this.#pump = this.#write();
    }
    return true;
  }

  /** Resolves once everything queued is written, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    if (!this.#writing) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#pump,
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
    ]);
    clearTimeout(timer);
  }

  /** Closes the connection once; pending writes are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed by the other side
    }
  }

  /** Resolves when no write is in flight (after `close`, promptly). */
  async settled(): Promise<void> {
    await this.#pump;
  }

  async #write(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const line = this.#queue[0];
        let rest = line;
        while (rest.length > 0) {
          rest = rest.subarray(await this.#conn.write(rest));
        }
        if (this.#closed) break;
        this.#queue.shift();
        this.#queuedBytes -= line.length;
      }
    } catch {
      this.close();
    } finally {
      // Cleared in the same turn the loop saw an empty queue, so a later
      // send always starts a new pump.
      this.#writing = false;
    }
  }
}

/** Options of `serveLobbyTcp`. */
export interface LobbyTcpOptions {
  hostname?: string;
  port: number;
  /** Largest incoming JSON object (default 64 KiB). */
  maxObjectBytes?: number;
  /** Reply bytes queued for a client before it is disconnected (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Open connections at most, all addresses together (default 5,000). */
  maxConnections?: number;
  /** Open connections one address holds at most (default 50). */
  maxPerAddress?: number;
}

/**
 * Open TCP connections one instance holds at most: each is unauthenticated
 * until its login line and holds a hub connection. Past the cap a client
 * gets one error line and is closed.
 */
const MAX_TCP_CONNECTIONS = 5_000;
/** Open TCP connections one address holds at most. */
export const MAX_TCP_PER_ADDRESS = 50;

/** A running lobby TCP server. */
export interface LobbyTcpServer {
  /** The port it listens on (useful when asked for port 0). */
  port: number;
  /** Stops accepting, closes every connection, waits for them to finish. */
  close(): Promise<void>;
}

/** Serves the lobby socket API over raw TCP, feeding `hub`. */
export function serveLobbyTcp(
  hub: LobbyHub,
  {
    hostname = "0.0.0.0",
    port,
    maxObjectBytes = 64 * 1024,
    maxBufferedBytes = 1024 * 1024,
    maxConnections = MAX_TCP_CONNECTIONS,
    maxPerAddress = MAX_TCP_PER_ADDRESS,
  }: LobbyTcpOptions,
): LobbyTcpServer {
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  const peers = new Set<TcpPeer>();
  const perAddress = new Map<string, number>();
  const tasks = new Set<Promise<void>>();
  let closed = false;

  /** Refuses a connection past a cap: one error line, then close. */
  async function refuse(conn: Deno.TcpConn, whose: string): Promise<void> {
    const line = JSON.stringify(
      lobbyErrorReply(
        `too many lobby connections on ${whose}: try again later`,
      ),
    ) + "\n";
    try {
      await conn.write(new TextEncoder().encode(line));
    } catch {
      // the client is gone already
    } finally {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  async function serveConnection(conn: Deno.TcpConn): Promise<void> {
    const address = conn.remoteAddr.hostname;
    const mine = perAddress.get(address) ?? 0;
    if (peers.size >= maxConnections || mine >= maxPerAddress) {
      return refuse(
        conn,
        peers.size >= maxConnections ? "this server" : "your address",
      );
    }
    perAddress.set(address, mine + 1);
    const peer = new TcpPeer(conn, maxBufferedBytes);
    peers.add(peer);
    const lobby = hub.attach(peer, conn.remoteAddr.hostname);
    const splitter = new JsonObjectSplitter({ maxObjectBytes });
    const buffer = new Uint8Array(16 * 1024);
    let ended = false;
    try {
      while (lobby && peer.open) {
        const n = await conn.read(buffer);
        if (n === null) {
          ended = true;
          break;
        }
        for (const item of splitter.push(buffer.subarray(0, n))) {
          if (item.kind === "object") {
            await hub.receive(lobby, item.text);
          } else {
            hub.touch(lobby);
            peer.send(
              item.kind === "invalid" ? INVALID_JSON : lobbyErrorReply(
                `message larger than ${maxObjectBytes} bytes: skipped to its end or the next newline`,
              ),
            );
          }
        }
      }
    } catch {
      // reset by the client, or closed by us
    } finally {
      if (ended) await peer.flush(2000);
      peer.close();
      await peer.settled();
      if (lobby) await hub.detach(lobby);
      peers.delete(peer);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    }
  }

  async function accept(): Promise<void> {
    try {
      for await (const conn of listener) {
        if (closed) {
          conn.close();
          break;
        }
        const task = serveConnection(conn);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // the listener was closed
    }
  }

  const accepting = accept();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      for (const peer of peers) peer.close();
      await Promise.all([...tasks]);
    },
  };
}
