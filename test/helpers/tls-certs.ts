// Test PKI made with the openssl CLI at test time: a private CA, a `localhost` server certificate,
// a certificate for the wrong name, a client certificate and some garbage PEM files.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its key: file paths and PEM text. */
export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** Everything a TLS test needs, all under one directory. */
export interface TestPki {
  dir: string;
  /** The private CA (its certificate is what STREAM_TLS_CA_FILE points to). */
  ca: CertPair;
  /** CN=localhost, SAN DNS:localhost + IP:127.0.0.1, signed by the CA. */
  server: CertPair;
  /** CN=wrong.example, SAN DNS:wrong.example, signed by the CA. */
  wrongHost: CertPair;
  /** CN=client, clientAuth, signed by the CA. */
  client: CertPair;
  /** A file that looks like a PEM certificate but is not one. */
  garbagePemFile: string;
  /** A file with no PEM block at all. */
  garbageTextFile: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): CertPair {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a leaf certificate `<name>.pem` / `<name>.key` signed by the CA in `dir`. */
function issue(dir: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

/** Creates the test PKI in `dir` (an existing, empty directory). */
export function makeTestPki(dir: string): TestPki {
  openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-sha256',
    '-subj', '/CN=audio-stream test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const leaf = (san: string, usage: string) =>
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n${san ? `subjectAltName=${san}\n` : ''}`;
  issue(dir, 'server', '/CN=localhost', leaf('DNS:localhost,IP:127.0.0.1', 'serverAuth'));
  issue(dir, 'wrong', '/CN=wrong.example', leaf('DNS:wrong.example', 'serverAuth'));
  issue(dir, 'client', '/CN=client', leaf('', 'clientAuth'));
  const garbagePemFile = join(dir, 'garbage.pem');
  writeFileSync(garbagePemFile, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n');
  const garbageTextFile = join(dir, 'garbage.txt');
  writeFileSync(garbageTextFile, 'this is not PEM\n');
  return {
    dir,
    ca: pair(dir, 'ca'),
    server: pair(dir, 'server'),
    wrongHost: pair(dir, 'wrong'),
    client: pair(dir, 'client'),
    garbagePemFile,
    garbageTextFile,
  };
}
