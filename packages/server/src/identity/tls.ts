import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as X509 from '@peculiar/x509';

/** Where a self-signed set lives, below the data root. */
export const TLS_DIR = 'tls';

export interface TlsFiles {
  /** PEM: the server certificate followed by its issuing CA (what the server sends). */
  certFile: string;
  keyFile: string;
  /** PEM: the CA certificate clients must trust (NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE). */
  caFile: string;
  /** True when this call made (or re-made) the server certificate. */
  created: boolean;
  /** SHA-256 fingerprint of the CA certificate, for people comparing by eye. */
  caFingerprint: string;
}

const writePrivate = (file: string, data: string) => {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
};

/** Names a local certificate should cover: localhost, loopback addresses, this machine's name, and `extra`. */
export function defaultHostNames(extra: string[] = []): string[] {
  const names = new Set([
    'localhost',
    '127.0.0.1',
    '::1',
    os.hostname().toLowerCase(),
    ...extra.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')),
  ]);
  names.delete('0.0.0.0');
  names.delete('::');
  names.delete('');
  return [...names];
}

type PeculiarCrypto = NonNullable<Parameters<typeof X509.X509CertificateGenerator.create>[1]>;
type CryptoKey = crypto.webcrypto.CryptoKey;
type CryptoKeyPair = crypto.webcrypto.CryptoKeyPair;
const subtle = crypto.webcrypto.subtle;
const webcrypto = crypto.webcrypto as unknown as PeculiarCrypto;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const newKeys = () => subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
const serial = () => `01${crypto.randomBytes(15).toString('hex')}`;
const dnSafe = (s: string) => s.replace(/[,=+<>#;"\\]/g, '_');
const pemBody = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
async function privatePem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END PRIVATE KEY-----\n`;
}

const isIp = (h: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.includes(':');

function covers(certPem: string, hosts: string[]): boolean {
  try {
    const cert = new crypto.X509Certificate(certPem);
    if (Date.parse(cert.validTo) - Date.now() < 30 * 86_400_000) return false;
    // A wildcard name is covered when a name it matches is.
    return hosts.every((h) => (isIp(h) ? cert.checkIP(h) : cert.checkHost(h.replace(/^\*\./, 'x.'))) !== undefined);
  } catch {
    return false;
  }
}

/**
 * A self-signed setup for local HTTPS, kept in `{home}/tls/`: a small private CA (made once, 10
 * years, key mode 0600) and a server certificate it signs (1 year) for `hosts`. The server
 * certificate is re-made when it is missing, expires within 30 days or lacks one of the hosts; the
 * CA stays, so clients keep trusting it. A CA-signed leaf with key identifiers (instead of one
 * self-signed leaf) is what strict verifiers (OpenSSL 3 with X509_STRICT, Python 3.13) accept;
 * @peculiar/x509 writes those extensions (the `selfsigned` package cannot add key identifiers).
 */
export async function ensureSelfSignedCertificate(
  home: string,
  hosts: string[] = defaultHostNames(),
): Promise<TlsFiles> {
  // Loaded only here (~0.25 s): servers without a self-signed certificate never pay for it.
  const x509 = await import('@peculiar/x509');
  const dir = path.join(home, TLS_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = path.join(dir, 'ca.pem');
  const caKeyFile = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');

  let caCert = fs.existsSync(caFile) && fs.existsSync(caKeyFile) ? fs.readFileSync(caFile, 'utf8') : undefined;
  let caKeyPem = caCert ? fs.readFileSync(caKeyFile, 'utf8') : undefined;
  if (!caCert || !caKeyPem) {
    const keys = await newKeys();
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serial(),
        name: `CN=Atelier local CA (${dnSafe(os.hostname())}), O=Atelier`,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3650 * 86_400_000),
        signingAlgorithm: ALG,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
        ],
      },
      webcrypto,
    );
    caKeyPem = await privatePem(keys.privateKey);
    caCert = cert.toString('pem');
    writePrivate(caKeyFile, caKeyPem);
    fs.writeFileSync(caFile, caCert + '\n', { mode: 0o644 });
  }
  const existing = fs.existsSync(certFile) && fs.existsSync(keyFile) ? fs.readFileSync(certFile, 'utf8') : undefined;
  let created = false;
  if (!existing || !covers(existing, hosts) || !existing.includes(caCert.trim())) {
    const ca = new x509.X509Certificate(caCert);
    const caKey = await subtle.importKey('pkcs8', pemBody(caKeyPem), ALG, false, ['sign']);
    const keys = await newKeys();
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${dnSafe(hosts[0] ?? 'localhost')}, O=Atelier`,
        issuer: ca.subject,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 365 * 86_400_000),
        signingAlgorithm: ALG,
        publicKey: keys.publicKey,
        signingKey: caKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(
            hosts.map((h) => ({ type: isIp(h) ? ('ip' as const) : ('dns' as const), value: h })),
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
          await x509.AuthorityKeyIdentifierExtension.create(ca, false, webcrypto),
        ],
      },
      webcrypto,
    );
    writePrivate(keyFile, await privatePem(keys.privateKey));
    fs.writeFileSync(certFile, `${leaf.toString('pem').trim()}\n${caCert.trim()}\n`, { mode: 0o644 });
    created = true;
  }
  return { certFile, keyFile, caFile, created, caFingerprint: new crypto.X509Certificate(caCert).fingerprint256 };
}

/** What to tell people so their clients trust a self-signed server. */
export function trustInstructions(files: Pick<TlsFiles, 'caFile' | 'caFingerprint'>): string {
  return [
    `HTTPS with a self-signed certificate (CA ${files.caFile}, SHA-256 ${files.caFingerprint}).`,
    'Make clients trust it:',
    `  Node.js (atelier CLI, @azure/* SDKs):  export NODE_EXTRA_CA_CERTS=${files.caFile}`,
    `  Python (requests, azure-*, mlflow):     export REQUESTS_CA_BUNDLE=${files.caFile}`,
    `  curl:                                   curl --cacert ${files.caFile} …`,
  ].join('\n');
}

/**
 * What `atelier server start --tls` passes to startServer: the certificate from
 * ATELIER_TLS_CERT/ATELIER_TLS_KEY when set, else a self-signed one in the data root (made when
 * needed), with the lines to print.
 */
export async function prepareTls(opts: {
  home: string;
  host?: string;
  publicUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** ATELIER_STORAGE_SUFFIX: the certificate also covers `*.blob.{suffix}` (host-style blob URIs). */
  storageSuffix?: string;
}): Promise<{ tlsCert: string; tlsKey: string; message: string; caFile?: string }> {
  const env = opts.env ?? process.env;
  if (env.ATELIER_TLS_CERT || env.ATELIER_TLS_KEY) {
    if (!env.ATELIER_TLS_CERT || !env.ATELIER_TLS_KEY)
      throw new Error('ATELIER_TLS_CERT and ATELIER_TLS_KEY must be set together');
    for (const f of [env.ATELIER_TLS_CERT, env.ATELIER_TLS_KEY])
      if (!fs.existsSync(f)) throw new Error(`TLS file ${f} does not exist`);
    return {
      tlsCert: env.ATELIER_TLS_CERT,
      tlsKey: env.ATELIER_TLS_KEY,
      message: `HTTPS with the certificate ${env.ATELIER_TLS_CERT}.`,
    };
  }
  const extra: string[] = [];
  if (opts.host) extra.push(opts.host);
  if (opts.publicUrl) extra.push(new URL(opts.publicUrl).hostname);
  const suffix = opts.storageSuffix ?? (env.ATELIER_STORAGE_SUFFIX || undefined);
  if (suffix) extra.push(`*.blob.${suffix}`);
  const files = await ensureSelfSignedCertificate(opts.home, defaultHostNames(extra));
  return { tlsCert: files.certFile, tlsKey: files.keyFile, caFile: files.caFile, message: trustInstructions(files) };
}
