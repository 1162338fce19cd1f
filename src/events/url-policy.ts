import dns from "node:dns";
import net from "node:net";

/**
 * Which webhook URLs the service will call (SSRF defence). Checked when an
 * endpoint is created or its URL changed, and again at every delivery, where
 * the connection goes to the very address that was checked (no second DNS
 * lookup between check and connect, so DNS rebinding cannot slip in).
 */
export type ResolvedAddress = { address: string; family: 4 | 6 };
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export type UrlPolicy = {
  /** WEBHOOK_ALLOW_INSECURE_URLS=1: http:// allowed too. */
  allowInsecure: boolean;
  /** WEBHOOK_ALLOW_PRIVATE_URLS=1: loopback, private, link-local... allowed. */
  allowPrivate: boolean;
  /** Injected in tests; by default the system resolver, every address. */
  resolve?: Resolver;
};

export const systemResolver: Resolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

const blocked = new net.BlockList();
for (const [net4, prefix] of [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  blocked.addSubnet(net4, prefix, "ipv4");
for (const [net6, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128],
  ["64:ff9b::", 96], // NAT64 (may reach private v4)
  ["64:ff9b:1::", 48],
  ["100::", 64], // discard
  ["2001::", 23], // IETF protocol assignments (Teredo etc.)
  ["2001:db8::", 32],
  ["2002::", 16], // 6to4 (may reach private v4)
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const)
  blocked.addSubnet(net6, prefix, "ipv6");

/** Loopback, private, link-local, unspecified, CGNAT, documentation, multicast... anything not a public unicast address. */
export function isNonPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return blocked.check(mapped[1], "ipv4");
  if (/^::ffff:/i.test(address)) return true; // a mapped address in hex form: refuse rather than parse
  return blocked.check(address, "ipv6");
}

export class UrlRefusedError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** The URL's shape alone (no DNS): absolute http(s), no credentials, https unless insecure URLs are allowed. */
export function checkUrlShape(policy: UrlPolicy, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefusedError("url", "not an absolute URL");
  }
  if (url.protocol !== "https:" && !(policy.allowInsecure && url.protocol === "http:")) {
    throw new UrlRefusedError("url", policy.allowInsecure ? "must be an http or https URL" : "must be an https URL");
  }
  if (url.username || url.password) throw new UrlRefusedError("url", "must not carry credentials");
  if (!url.hostname) throw new UrlRefusedError("url", "must name a host");
  return url;
}

/**
 * The URL's shape and every address its host resolves to. Returns the
 * addresses to connect to (all of them checked). Throws UrlRefusedError.
 */
export async function resolveAllowedUrl(policy: UrlPolicy, raw: string): Promise<{ url: URL; addresses: ResolvedAddress[] }> {
  const url = checkUrlShape(policy, raw);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: ResolvedAddress[];
  const literal = net.isIP(host);
  if (literal) addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await (policy.resolve ?? systemResolver)(host);
    } catch (err) {
      throw new UrlRefusedError("url", `the host does not resolve (${(err as { code?: string }).code ?? "error"})`);
    }
  }
  if (addresses.length === 0) throw new UrlRefusedError("url", "the host does not resolve");
  if (!policy.allowPrivate) {
    const bad = addresses.find((a) => isNonPublicAddress(a.address));
    if (bad) throw new UrlRefusedError("url", `the host resolves to a loopback, private or otherwise non-public address (${bad.address})`);
  }
  return { url, addresses };
}
