import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDnsOptions, resolvConf } from '../../../src/oci/resolv-conf.js';

const HOST = '# host\nsearch lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n';
const none = { dns: [], search: [], options: [] };

describe('resolvConf', () => {
  it("keeps the host's file, without loopback nameservers for a private network", () => {
    assert.equal(resolvConf(HOST, none, false), HOST);
    assert.equal(resolvConf(HOST, none, true), '# host\nsearch lan\nnameserver 10.0.0.1\noptions edns0\n');
  });

  it('rebuilds the file from Dns, DnsSearch and DnsOptions, each falling back to the host (libnetwork)', () => {
    assert.equal(
      resolvConf(
        HOST,
        { dns: ['9.9.9.9', '2001:db8::1'], search: ['a.example', 'b.example'], options: ['ndots:2'] },
        true,
      ),
      'search a.example b.example\nnameserver 9.9.9.9\nnameserver 2001:db8::1\noptions ndots:2\n',
    );
    assert.equal(
      resolvConf(HOST, { ...none, dns: ['1.1.1.1'] }, true),
      'search lan\nnameserver 1.1.1.1\noptions edns0\n',
    );
    assert.equal(resolvConf(HOST, { ...none, search: ['.'] }, true), 'nameserver 10.0.0.1\noptions edns0\n');
  });
});

describe('checkDnsOptions', () => {
  it('accepts IPv4 and IPv6 addresses and refuses anything else (x is not an ip address)', () => {
    assert.deepEqual(checkDnsOptions({ Dns: ['1.2.3.4', '::1'] }).dns, ['1.2.3.4', '::1']);
    assert.throws(
      () => checkDnsOptions({ Dns: ['1.2.3'] }),
      /^InvalidArgumentError: HostConfig\.Dns: 1\.2\.3 is not an ip address$/,
    );
    assert.throws(() => checkDnsOptions({ Dns: 'x' }), /HostConfig\.Dns: must be an array of strings/);
    assert.throws(() => checkDnsOptions({ DnsSearch: ['a b'] }), /HostConfig\.DnsSearch/);
    assert.throws(() => checkDnsOptions({ DnsOptions: [''] }), /HostConfig\.DnsOptions/);
  });
});
