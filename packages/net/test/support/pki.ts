/** A test certificate authority and a server certificate it signed (for localhost and 127.0.0.1). */
import { generate } from "selfsigned";

export interface Pki {
  caCert: string;
  serverKey: string;
  serverCert: string;
}

/** Generates a fresh CA and server certificate (EC P-256: milliseconds, where RSA takes far longer). */
export async function testPki(): Promise<Pki> {
  const ca = await generate([{ name: "commonName", value: "weft test CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  return { caCert: ca.cert, serverKey: server.private, serverCert: server.cert };
}
