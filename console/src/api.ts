// The console's only way to Kumo: the AWS SDK for JavaScript v3 EC2 client for the EC2 API (so
// every page is also a compatibility test of Kumo's EC2 endpoint), and SigV4-signed JSON 1.1 calls
// for Kumo's billing (service "ce", like Cost Explorer). Same origin as the page: no CORS.
import { EC2Client } from "@aws-sdk/client-ec2";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

export interface Session {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const KEY = "kumo.session";

// sessionStorage: the keys live as long as this tab, never in localStorage or a cookie.
export function loadSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    return s && s.accessKeyId && s.secretAccessKey && s.region ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

let cached: { key: string; client: EC2Client } | null = null;

export function ec2(s: Session): EC2Client {
  // Keyed by the secret too: a corrected secret on the sign-in page must not reuse the old client.
  const key = `${s.accessKeyId}/${s.secretAccessKey}/${s.region}`;
  if (cached?.key !== key) {
    cached?.client.destroy();
    cached = {
      key,
      client: new EC2Client({
        region: s.region,
        endpoint: location.origin,
        credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
        maxAttempts: 2,
      }),
    };
  }
  return cached.client;
}

// An API failure in words a person understands, with EC2's code beside it.
export class ApiError extends Error {
  constructor(
    public code: string,
    message: string,
    public status = 0,
  ) {
    super(message);
  }
}

const EXPLAIN: Record<string, string> = {
  AuthFailure: "Kumo did not accept these keys. Check the access key ID and the secret.",
  SignatureDoesNotMatch: "The secret access key does not match the access key ID.",
  InvalidClientTokenId: "Kumo does not know this access key ID.",
  UnauthorizedOperation: "This account is not allowed to do that.",
  InsufficientInstanceCapacity:
    "The hosts have no room for this instance type right now. Try a smaller type, another zone, or later.",
  InstanceLimitExceeded: "The account has reached its limit of running instances.",
  MaxSpotInstanceCountExceeded: "The account has reached its limit of spot instances.",
  "InvalidKeyPair.Duplicate": "A key pair with this name already exists.",
  "InvalidGroup.Duplicate": "A security group with this name already exists.",
  "InvalidPermission.Duplicate": "This rule is already in the group.",
  DependencyViolation: "Something still uses this resource; remove that first.",
  IncorrectInstanceState: "The instance is not in a state that allows this.",
  NetworkError: "Kumo did not answer. Is kumod running?",
};

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const any = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = any?.Code ?? any?.name ?? "Error";
  let message = any?.message ?? String(e);
  if (code === "TypeError" && /fetch/i.test(message)) return new ApiError("NetworkError", EXPLAIN.NetworkError);
  return new ApiError(code, message, any?.$metadata?.httpStatusCode ?? 0);
}

// "What happened (Code)": Kumo's own message first, since it names the resource; a plain-words
// explanation is added for the codes whose messages assume EC2 knowledge.
export function describeError(e: unknown): { text: string; code: string; hint?: string } {
  const err = toApiError(e);
  return { text: err.message, code: err.code, hint: EXPLAIN[err.code] };
}

// KumoBilling.* and AWSInsightsIndexService.* over JSON 1.1, signed like any AWS JSON service.
export async function jsonCall<T = any>(s: Session, target: string, body: object = {}): Promise<T> {
  const signer = new SignatureV4({
    service: "ce",
    region: s.region,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    sha256: Sha256,
  });
  const payload = JSON.stringify(body);
  const signed = await signer.sign({
    method: "POST",
    protocol: location.protocol,
    hostname: location.hostname,
    port: location.port ? Number(location.port) : undefined,
    path: "/",
    query: {},
    headers: {
      host: location.host,
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": target,
    },
    body: payload,
  });
  const headers: Record<string, string> = { ...signed.headers };
  delete headers.host; // the browser sends it (the same value) and forbids setting it
  let res: Response;
  try {
    res = await fetch("/", { method: "POST", headers, body: payload });
  } catch {
    throw new ApiError("NetworkError", EXPLAIN.NetworkError);
  }
  const text = await res.text();
  let json: any = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError("InternalError", `Kumo answered ${res.status} with something that is not JSON`, res.status);
  }
  if (!res.ok) {
    const type = String(json.__type ?? "Error");
    throw new ApiError(type.slice(type.lastIndexOf("#") + 1), json.message ?? json.Message ?? text, res.status);
  }
  return json as T;
}

// The address instances see this browser's connections come from (for the "My IP" rule source).
export async function myIp(): Promise<string | null> {
  try {
    const res = await fetch("/console/api/my-ip", { cache: "no-store" });
    if (!res.ok) return null;
    const j = await res.json();
    return typeof j.SourceIp === "string" ? j.SourceIp : null;
  } catch {
    return null;
  }
}
