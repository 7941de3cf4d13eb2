/**
 * The container's /etc/resolv.conf as dockerd (libnetwork `sandbox_dns_unix.go` setupDNS,
 * `resolvconf.Build`) writes it: the host's file, without loopback nameservers when the
 * container has its own network namespace; with `--dns`, `--dns-search` or `--dns-option`
 * given, a file rebuilt from those (each list falling back to the host's own).
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors/index.js';

/** DnsOptions are HostConfig.Dns, DnsSearch and DnsOptions. */
export interface DnsOptions {
  dns: string[];
  search: string[];
  options: string[];
}

function strings(field: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new InvalidArgumentError(`HostConfig.${field}: must be an array of strings`);
  return v as string[];
}

/**
 * checkDnsOptions validates HostConfig.Dns (each an IPv4 or IPv6 address: `HostConfig.Dns: x
 * is not an ip address`), DnsSearch and DnsOptions (strings without whitespace, which would
 * split into other entries of the file).
 */
export function checkDnsOptions(hc: {
  Dns?: unknown;
  DnsSearch?: unknown;
  DnsOptions?: unknown;
}): DnsOptions {
  const dns = strings('Dns', hc.Dns);
  for (const d of dns) {
    if (isIP(d) === 0) throw new InvalidArgumentError(`HostConfig.Dns: ${d} is not an ip address`);
  }
  const search = strings('DnsSearch', hc.DnsSearch);
  const options = strings('DnsOptions', hc.DnsOptions);
  for (const [field, list] of [
    ['DnsSearch', search],
    ['DnsOptions', options],
  ] as const) {
    for (const s of list) {
      if (s === '' || /\s/.test(s))
        throw new InvalidArgumentError(`HostConfig.${field}: ${JSON.stringify(s)} is not a valid entry`);
    }
  }
  return { dns, search, options };
}

const LOOPBACK_NS = /^\s*nameserver\s+(127\.\S*|::1)\s*$/;

function entries(text: string, keyword: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line
      .replace(/[#;].*$/, '')
      .trim()
      .split(/\s+/);
    if (l[0] === keyword) out.push(...l.slice(1));
  }
  return out;
}

/**
 * resolvConf returns the text of the container's resolv.conf from the host's. `ownNetwork`
 * (any mode but host) drops loopback nameservers, which another network namespace cannot
 * reach. With any DNS option set the file is rebuilt: `search`, one `nameserver` per address,
 * `options`, each list taken from the request or else from the host's file.
 */
export function resolvConf(hostText: string, dns: DnsOptions, ownNetwork: boolean): string {
  const filtered = ownNetwork
    ? hostText
        .split('\n')
        .filter((l) => !LOOPBACK_NS.test(l))
        .join('\n')
    : hostText;
  if (dns.dns.length === 0 && dns.search.length === 0 && dns.options.length === 0) return filtered;
  const nameservers = dns.dns.length > 0 ? dns.dns : entries(filtered, 'nameserver');
  const search = dns.search.length > 0 ? dns.search : entries(filtered, 'search');
  const options = dns.options.length > 0 ? dns.options : entries(filtered, 'options');
  let out = '';
  const searchLine = search.join(' ');
  if (search.length > 0 && searchLine.trim() !== '.') out += `search ${searchLine}\n`;
  for (const ns of nameservers) out += `nameserver ${ns}\n`;
  if (options.length > 0) out += `options ${options.join(' ')}\n`;
  return out;
}
