// A real OpenID provider on loopback for the integration tests: panva's
// oidc-provider (OpenID Certified), issuing JWT access tokens (RFC 9068) with
// the client_credentials grant and resource indicators (RFC 8707).
//
//   node provider.mjs PORT
//
// Signing keys (RS256, PS256, ES256, EdDSA) are generated in memory at start,
// so a restart on the same port is a key rotation. Each resource
// https://api.example.test/<alg> gets tokens signed with <alg>.
// Sender-constrained tokens: "dpop-client" gets DPoP-bound tokens (cnf.jkt,
// RFC 9449; its token requests carry a DPoP proof) and "mtls-client"
// certificate-bound ones (cnf x5t#S256, RFC 8705). TLS is terminated in front
// of the provider, as API Gateway does for the API: the client certificate
// arrives URL-encoded in the X-Client-Certificate header.
// MCP servers behind the local API (#24): any http://127.0.0.1:<port> resource gets
// RS256 tokens for it; "mcp-client" may ask for mcp:tools and read:orders, and
// "mcp-expiring-client" gets tokens that expire after one second.
// Opaque tokens (#25): https://api.example.test/opaque gets opaque access tokens,
// which "introspector" asks about at /token/introspection (RFC 7662); a token's
// own client revokes it at /token/revocation (RFC 7009). "introspector-jwt" authenticates
// with private_key_jwt: its ES256 key is made here, and its private half written (PEM) to
// the file $INTROSPECTOR_KEY_FILE names, for the test to hand the authorizer.
// Prints "READY <issuer>" once listening.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import Provider from "oidc-provider";

const port = Number(process.argv[2] || 0);
const issuer = `http://127.0.0.1:${port}`;
const ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"];

function signingKey(alg) {
  const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
  let pair;
  if (alg === "RS256" || alg === "PS256") {
    pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  } else if (alg === "ES256") {
    pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  } else {
    pair = generateKeyPairSync("ed25519");
  }
  return { ...pair.privateKey.export({ format: "jwk" }), kid, alg, use: "sig" };
}

function machineClient(clientId, scope = "read:orders write:orders") {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-for-loopback-tests`,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    scope,
  };
}

function loopbackResource(resource) {
  try {
    const url = new URL(resource);
    return url.protocol === "http:" && url.hostname === "127.0.0.1";
  } catch {
    return false;
  }
}

const introspectorKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
if (process.env.INTROSPECTOR_KEY_FILE) {
  writeFileSync(
    process.env.INTROSPECTOR_KEY_FILE,
    introspectorKey.privateKey.export({ format: "pem", type: "pkcs8" }),
  );
}

const provider = new Provider(issuer, {
  clients: [
    machineClient("m2m-client"),
    { ...machineClient("dpop-client"), dpop_bound_access_tokens: true },
    { ...machineClient("mtls-client"), tls_client_certificate_bound_access_tokens: true },
    machineClient("mcp-client", "mcp:tools read:orders"),
    machineClient("mcp-expiring-client", "mcp:tools"),
    machineClient("introspector"),
    {
      ...machineClient("introspector-jwt"),
      client_secret: undefined,
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_signing_alg: "ES256",
      jwks: { keys: [{ ...introspectorKey.publicKey.export({ format: "jwk" }), alg: "ES256", use: "sig" }] },
    },
  ],
  scopes: ["openid", "read:orders", "write:orders", "mcp:tools"],
  jwks: { keys: ALGORITHMS.map(signingKey) },
  features: {
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      getCertificate(ctx) {
        const pem = ctx.get("x-client-certificate");
        return pem ? decodeURIComponent(pem) : undefined;
      },
    },
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => "https://api.example.test/RS256",
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => {
        if (loopbackResource(resource)) {
          return {
            scope: "mcp:tools read:orders",
            audience: resource,
            accessTokenTTL: client.clientId === "mcp-expiring-client" ? 1 : 300,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        }
        if (resource === "https://api.example.test/opaque") {
          return {
            scope: "read:orders write:orders",
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: "opaque",
          };
        }
        const alg = resource.split("/").pop();
        if (!ALGORITHMS.includes(alg)) {
          throw new Error(`unknown resource ${resource}`);
        }
        return {
          scope: "read:orders write:orders",
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg } },
        };
      },
    },
  },
});

const server = provider.listen(port, "127.0.0.1", () => {
  process.stdout.write(`READY ${issuer}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
