import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tlsWording } from '../../../src/registry/transport.js';

test("TLS failures are worded as Go's crypto/x509 and crypto/tls (what dockerd prints)", () => {
  assert.match(
    tlsWording('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain') ?? '',
    /^x509: certificate signed by unknown authority \(self-signed/,
  );
  assert.match(
    tlsWording('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'm') ?? '',
    /^x509: certificate signed by unknown authority/,
  );
  assert.match(
    tlsWording('CERT_HAS_EXPIRED', 'm') ?? '',
    /^x509: certificate has expired or is not yet valid/,
  );
  assert.match(
    tlsWording('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'm') ?? '',
    /^remote error: tls: certificate required/,
  );
  assert.equal(tlsWording('ECONNREFUSED', 'm'), undefined);
  assert.equal(tlsWording(undefined, 'm'), undefined);
});
