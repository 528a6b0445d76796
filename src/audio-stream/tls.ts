import { readFileSync, statSync, existsSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls, { type SecureContext } from 'node:tls';
import { streamError } from './errors.ts';
import type { StreamOptions } from './options.ts';

/** TLS options handed to the WebSocket client for a `wss://` URL. */
export interface TlsClientOptions {
  secureContext: SecureContext;
  rejectUnauthorized: boolean;
  checkServerIdentity?: (host: string, cert: tls.PeerCertificate) => Error | undefined;
}

/** Where the operating system keeps its trust store (Debian's ca-certificates); SSL_CERT_FILE overrides. */
export function systemCaBundlePath(): string | undefined {
  const candidates = [process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

const contextCache = new Map<string, SecureContext>();
const MAX_CACHED_CONTEXTS = 64;

function fail(message: string): never {
  throw streamError('STREAM_TLS_INIT_FAILED', message);
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return fail(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function fileStamp(path: string | undefined): string {
  if (!path) return '-';
  try {
    const st = statSync(path);
    return `${path}@${st.mtimeMs}:${st.size}`;
  } catch {
    return `${path}@missing`;
  }
}

/** Splits a PEM bundle and checks that every certificate in it parses. */
function loadCaBundle(path: string, what: string): string[] {
  const pem = readPem(path, what);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) fail(`${what} ${path} holds no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      fail(`${what} ${path} holds an invalid certificate: ${(err as Error).message}`);
    }
  }
  return blocks;
}

function loadClientPair(certFile: string, keyFile: string): { cert: string; key: string } {
  const cert = readPem(certFile, 'STREAM_TLS_CERT_FILE');
  const key = readPem(keyFile, 'STREAM_TLS_KEY_FILE');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return fail(`STREAM_TLS_CERT_FILE ${certFile} is not a valid certificate: ${(err as Error).message}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return fail(`STREAM_TLS_KEY_FILE ${keyFile} is not a valid private key: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(privateKey)) fail(`STREAM_TLS_KEY_FILE ${keyFile} does not match STREAM_TLS_CERT_FILE ${certFile}`);
  return { cert, key };
}

function buildContext(options: StreamOptions): SecureContext {
  const ca = options.tlsCaFile;
  let caList: string[] | undefined;
  if (ca.toUpperCase() === 'SYSTEM') {
    const bundle = systemCaBundlePath();
    caList = bundle ? loadCaBundle(bundle, 'system CA bundle') : [...tls.rootCertificates];
  } else if (ca.toUpperCase() !== 'NONE') {
    caList = loadCaBundle(ca, 'STREAM_TLS_CA_FILE');
  }
  const pair = options.tlsCertFile && options.tlsKeyFile ? loadClientPair(options.tlsCertFile, options.tlsKeyFile) : undefined;
  try {
    return tls.createSecureContext({ ca: caList, cert: pair?.cert, key: pair?.key, minVersion: 'TLSv1.2' });
  } catch (err) {
    return fail(`cannot build the TLS context: ${(err as Error).message}`);
  }
}

/**
 * Builds (or reuses) the TLS settings for one stream from its options; throws a StreamError
 * STREAM_TLS_INIT_FAILED (7) for missing, unreadable or invalid CA, certificate or key files.
 * Contexts are cached by file identity, so thousands of streams share one parsed trust store.
 */
export function tlsClientOptions(options: StreamOptions): TlsClientOptions {
  const onlyOne = (options.tlsCertFile === undefined) !== (options.tlsKeyFile === undefined);
  if (onlyOne) fail('STREAM_TLS_CERT_FILE and STREAM_TLS_KEY_FILE must be set together');
  const key = [options.tlsCaFile.toUpperCase() === 'SYSTEM' ? `SYSTEM:${fileStamp(systemCaBundlePath())}` : fileStamp(options.tlsCaFile),
    fileStamp(options.tlsCertFile), fileStamp(options.tlsKeyFile)].join('|');
  let secureContext = contextCache.get(key);
  if (!secureContext) {
    secureContext = buildContext(options);
    if (contextCache.size >= MAX_CACHED_CONTEXTS) contextCache.delete(contextCache.keys().next().value as string);
    contextCache.set(key, secureContext);
  }
  const result: TlsClientOptions = { secureContext, rejectUnauthorized: options.tlsCaFile.toUpperCase() !== 'NONE' };
  // Only set when skipping the check: an own `checkServerIdentity: undefined` overrides tls.connect's
  // default and makes it fail an internal assertion (ERR_INTERNAL_ASSERTION) on every wss:// connect.
  if (options.tlsDisableHostnameValidation) result.checkServerIdentity = skipHostnameCheck;
  return result;
}

/** Accepts any host name; the chain is still verified (rejectUnauthorized). */
function skipHostnameCheck(): undefined {
  return undefined;
}
