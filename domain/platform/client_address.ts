/**
 * The client's address behind reverse proxies. A proxy's forwarding headers
 * are believed only when the connection comes from a configured trusted
 * proxy (`--trusted-proxies`); the client is then the rightmost address in
 * the chain that is not itself a trusted proxy — everything left of it was
 * written by the client and may be forged.
 */

/** One parsed CIDR: the address as a bigint, its family and prefix length. */
interface Cidr {
  v6: boolean;
  base: bigint;
  prefix: number;
}

/** A parsed `--trusted-proxies` list. */
export interface CidrList {
  readonly entries: readonly Cidr[];
}

/** An empty list: no proxy is trusted. */
export const NO_PROXIES: CidrList = { entries: [] };

/**
 * Parses comma-separated CIDRs (IPv4 and IPv6; a bare address is a /32 or
 * /128). Throws naming the first bad entry.
 *
 * @example
 * parseCidrList("127.0.0.1/32, 10.0.0.0/8, fd00::/8")
 */
export function parseCidrList(text: string): CidrList {
  const entries: Cidr[] = [];
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (!item) continue;
    const [addr, bits, ...rest] = item.split("/");
    const parsed = parseAddress(addr);
    const width = parsed?.v6 ? 128 : 32;
    const prefix = bits === undefined ? width : Number(bits);
    if (
      !parsed || rest.length || !Number.isInteger(prefix) || prefix < 0 ||
      prefix > width || (bits !== undefined && !/^\d+$/.test(bits))
    ) {
      throw new Error(
        `trusted proxy "${item}" is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)`,
      );
    }
    entries.push({
      v6: parsed.v6,
      base: mask(parsed.value, prefix, width),
      prefix,
    });
  }
  return { entries };
}

/** True when `address` lies in one of the list's ranges. */
export function isTrusted(address: string, list: CidrList): boolean {
  if (list.entries.length === 0) return false;
  const parsed = parseAddress(address);
  if (!parsed) return false;
  for (const cidr of list.entries) {
    if (cidr.v6 !== parsed.v6) continue;
    const width = cidr.v6 ? 128 : 32;
    if (mask(parsed.value, cidr.prefix, width) === cidr.base) return true;
  }
  return false;
}

/**
 * The client address for rate limits and logs: `peer` itself, unless
 * `peer` is a trusted proxy — then the rightmost address of
 * `X-Forwarded-For` (or, without it, `Forwarded: for=`) that is not trusted.
 * Unparseable entries stop the walk (they cannot be believed), and a chain
 * of only trusted hops yields its leftmost hop.
 */
export function clientAddressOf(
  peer: string,
  headers: Headers,
  trusted: CidrList,
): string {
  const direct = normalise(peer) ?? peer;
  if (!isTrusted(direct, trusted)) return direct;
  const chain = forwardedChain(headers);
  let client = direct;
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = normalise(chain[i]);
    if (!hop) break;
    client = hop;
    if (!isTrusted(hop, trusted)) break;
  }
  return client;
}

/** The forwarded chain, client first: X-Forwarded-For, else Forwarded for=. */
function forwardedChain(headers: Headers): string[] {
  const xff = headers.get("x-forwarded-for");
  if (xff) return xff.split(",").map((s) => s.trim()).filter(Boolean);
  const forwarded = headers.get("forwarded");
  if (!forwarded) return [];
  const out: string[] = [];
  for (const element of forwarded.split(",")) {
    for (const pair of element.split(";")) {
      const [name, ...value] = pair.split("=");
      if (name.trim().toLowerCase() === "for") {
        out.push(value.join("=").trim().replace(/^"|"$/g, ""));
      }
    }
  }
  return out;
}

/**
 * An address in canonical form, without brackets, port or zone; an
 * IPv4-mapped IPv6 address becomes IPv4. Null when it is not an address.
 */
function normalise(text: string): string | null {
  let s = text.trim();
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    s = s.slice(1, end);
  } else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(s)) {
    s = s.slice(0, s.lastIndexOf(":"));
  }
  s = s.replace(/%.*$/, "");
  const parsed = parseAddress(s);
  if (!parsed) return null;
  if (parsed.v6 && parsed.value >> 32n === 0xffffn) {
    return formatV4(Number(parsed.value & 0xffffffffn));
  }
  return parsed.v6 ? s.toLowerCase() : formatV4(Number(parsed.value));
}

function formatV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function mask(value: bigint, prefix: number, width: number): bigint {
  if (prefix === 0) return 0n;
  const bits = BigInt(width - prefix);
  return (value >> bits) << bits;
}

function parseAddress(text: string): { v6: boolean; value: bigint } | null {
  if (text.includes(":")) {
    const value = parseV6(text);
    return value === null ? null : { v6: true, value };
  }
  const value = parseV4(text);
  return value === null ? null : { v6: false, value: BigInt(value) };
}

function parseV4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

function parseV6(text: string): bigint | null {
  if (text.length > 45) return null;
  let groups: string[];
  let tailV4: number | null = null;
  let s = text;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === null) return null;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  if (halves.length === 2) {
    const left = halves[0] ? halves[0].split(":") : [];
    const right = halves[1] ? halves[1].split(":") : [];
    const missing = 8 - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...Array(missing).fill("0"), ...right];
  } else {
    groups = s.split(":");
  }
  if (groups.length !== 8) return null;
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tailV4 !== null) value = (value & ~0xffffffffn) | BigInt(tailV4);
  return value;
}

const parsedLists = new WeakMap<object, CidrList>();

/**
 * The trusted-proxy list of a server's config, parsed once per config
 * object (a server keeps one config for its life).
 */
export function trustedProxiesOf(config: { trustedProxies: string }): CidrList {
  let list = parsedLists.get(config);
  if (!list) {
    list = parseCidrList(config.trustedProxies);
    parsedLists.set(config, list);
  }
  return list;
}
