// The secret corpus: more than 60 secrets, each carrying a marker found nowhere else, placed in
// every position an agent's trail can hold one. Tests record it through the real auditor (or put
// it through PrivacyFilter.apply where the auditor does not yet pass the whole event), then
// search the raw bytes of each store and exporter for every marker: none may remain, and every
// look-alike must survive. Plain data and types only, so any package's tests can load it.
import { generateKeyPairSync } from "node:crypto";

/** One secret of the corpus: where it goes, and the marker that must not be found afterwards. */
export interface CorpusSecret {
  n: number;
  where: string;
  marker: string;
}

const SECRETS: CorpusSecret[] = [];

/** A marker of `length` characters from `alphabet`, unique to secret `n`. */
function marker(n: number, where: string, length = 16, upper = false): string {
  const nn = String(n).padStart(2, "0");
  const body = `Zk${nn}q${"RtVwXyPmNbLcHdGfJs".repeat(4)}`.slice(0, length);
  const m = upper ? body.toUpperCase() : body;
  SECRETS.push({ n, where, marker: m });
  return m;
}

const b64url = (s: string) => Buffer.from(s).toString("base64url");

// --- known token formats -------------------------------------------------------------------
const m1 = marker(1, "openai key in tool args", 32);
const m2 = marker(2, "anthropic key in a model prompt", 24);
const m3 = marker(3, "GitHub classic token in a tool result", 36);
const m4 = marker(4, "GitHub fine-grained token at depth 6", 30);
const m5 = marker(5, "Slack bot token in run input", 16);
const m6 = marker(6, "Slack user token in an action's params", 16);
const m7 = marker(7, "AWS access key id in an error message", 16, true);
const m8 = marker(8, "Google API key in policy rule", 35);
const m9 = marker(9, "GitLab token in an array", 24);
const m10 = marker(10, "npm token in approval options", 36);
const m11 = marker(11, "Stripe secret key in a custom event", 24);
const m12 = marker(12, "Hugging Face token in a tool.error stack", 32);
// A JWT's claims are base64url in the token: the encoded payload segment is the marker.
const jwtPayload = b64url(JSON.stringify({ sub: "alice-13", role: "admin" }));
SECRETS.push({ n: 13, where: "JWT in tool args", marker: jwtPayload });
const JWT = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${jwtPayload}.c2lnbmF0dXJlX2J5dGVzX2hlcmU`;
const pem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
  type: "pkcs8",
  format: "pem",
}) as string;
// The middle line of the key body is its marker (a PEM's lines are 64 base64 characters).
const m14 = pem.split("\n")[1]!.slice(8, 40);
SECRETS.push({ n: 14, where: "PEM private key in a tool result", marker: m14 });

// --- headers in text -------------------------------------------------------------------------
const m15 = marker(15, "Bearer token in free text");
const m16 = marker(16, "Authorization: Basic header in text");
const m17 = marker(17, "Authorization: Digest header in text");
const m18 = marker(18, "Authorization: token (GitHub scheme) in text");
const m19 = marker(19, "Cookie header in text");
const m20 = marker(20, "Set-Cookie header in text");
const m21 = marker(21, "X-Api-Key header in text");
const m59 = marker(59, "Authorization header in a policy reason");
const m64 = marker(64, "Proxy-Authorization header in a custom event");

// --- env-style lines -------------------------------------------------------------------------
const m22 = marker(22, "DB_PASSWORD= env line");
const m23 = marker(23, "PGPASSWORD= env line");
const m24 = marker(24, "GITHUB_TOKEN= env line (no known prefix)");
const m25 = marker(25, "AWS_SECRET_ACCESS_KEY= env line", 40);
const m26 = marker(26, "export MYSQL_PWD= line");
const m62 = marker(62, "OPENAI_API_KEY= in model output");

// --- JSON held in strings --------------------------------------------------------------------
const m27 = marker(27, 'string holding {"password":"…"}');
const m28 = marker(28, 'string holding {"api_key": "…"}');
const m29 = marker(29, "string holding JSON escaped twice");
const m30 = marker(30, 'string holding {"access_token":"…"} with more keys');

// --- URLs ------------------------------------------------------------------------------------
const m31 = marker(31, "postgres://user:password@ URL");
const m32 = marker(32, "redis://:password@ URL (no user name)");
const m33 = marker(33, "mongodb+srv:// URL in a connection error");
const m34 = marker(34, "amqp:// URL");
const m35 = marker(35, "git https URL with an access token");
const m36 = marker(36, "token= query parameter");
const m37 = marker(37, "api_key= query parameter");
const m38 = marker(38, "sig= query parameter (a SAS URL)");
const m39 = marker(39, "X-Amz-Signature= query parameter");
const m40 = marker(40, "access_token= query parameter");
const m60 = marker(60, "URL with credentials as an action target");

// --- passphrases and connection strings ------------------------------------------------------
const m41 = marker(41, "multi-word passphrase after password:");
const m42 = marker(42, "multi-word passphrase after Passphrase:");
const m43 = marker(43, "ADO.NET connection string Password=");
const m44 = marker(44, "libpq connection string password=");
const m45 = marker(45, "JDBC URL ?password=");
const m66 = marker(66, "YAML line secret: in a tool result");

// --- errors ----------------------------------------------------------------------------------
const m46 = marker(46, "thrown error message (tool.error)");
const m47 = marker(47, "error stack frame holding a URL password");
const m48 = marker(48, "run.fail error with a GitHub token", 36);
const m63 = marker(63, "error event message with a Cookie header");

// --- keys and key names ----------------------------------------------------------------------
const m49 = marker(49, "secret used as an object key", 32);
const m50 = marker(50, "secret used as a Map key", 36);
const m51 = marker(51, "value under key password");
const m52 = marker(52, "value under key clientSecret");
const m53 = marker(53, "value under headers.authorization");
const m54 = marker(54, 'value under key "x-api-key"');
const m55 = marker(55, "value under key apiToken at depth 6");
const m56 = marker(56, "password= inside an array element");

// --- every event type ------------------------------------------------------------------------
const m57 = marker(57, "approval.request reason");
const m58 = marker(58, "approval.resolve comment", 32);
const m61 = marker(61, "llm.end input (model content)", 24);
const m65 = marker(65, "URL password in run.start input", 16);

// --- envelope fields and reserved events (through PrivacyFilter.apply) -----------------------
const m67 = marker(67, "envelope actor", 32);
const m68 = marker(68, "envelope sessionId", 36);
const m69 = marker(69, "envelope runId");
const m70 = marker(70, "envelope spanId / parentSpanId / traceId", 16, true);
const m71 = marker(71, "audit.checkpoint data field");
const m72 = marker(72, "audit.checkpoint actor", 16);

/** Every secret of the corpus, with its marker. */
export const CORPUS: readonly CorpusSecret[] = SECRETS;

/**
 * Strings that look like secrets to a careless detector but are not: they must survive scrubbing
 * byte for byte, wherever they are stored.
 */
export const LOOK_ALIKES = [
  "0190c3a2-7b1e-7cc3-9d1f-3b2a1c0d9e8f",
  "9fceb02d0ae598e95dc970b74767f19372d61af8",
  "Please reset your password before Friday, the token count was 42.",
  "sk-learn",
  "task-based retries",
  "dana@example.com",
  "https://docs.example.com/guide?page=2&sort=asc",
  "the bearer of bad news",
  "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
] as const;

/** A base64 signature with a run that looks like a Google key; a checkpoint must keep it. */
export const CHECKPOINT_SIGNATURE = `u3Jk+AIzaSyA1234567890abcdefghijklmnopqrs/Zx9=`;

/** The run API the corpus uses (structural, so any build of @audit/core fits). */
export interface CorpusRun {
  tool<R>(name: string, args: unknown, fn: () => R | Promise<R>): Promise<R>;
  llm(call: Record<string, unknown>): unknown;
  policy(decision: {
    policy: string;
    decision: "allow" | "deny" | "review";
    rule?: string;
    reason?: string;
  }): unknown;
  action(action: {
    actionType: string;
    target: string;
    status: "success" | "failed" | "blocked" | "denied" | "skipped";
    params?: unknown;
    description?: string;
    error?: unknown;
  }): unknown;
  error(err: unknown): unknown;
  requestApproval(request: { action: string; reason?: string; options?: unknown }): string;
  fail(err: unknown): Promise<unknown>;
}

/** The auditor API the corpus uses. */
export interface CorpusAuditor {
  startRun(options: { agent?: string; input?: unknown }): CorpusRun;
  record(input: { type: string; data: Record<string, unknown>; runId?: string }): unknown;
  approvals: {
    resolve(
      id: string,
      resolution: { outcome: string; resolvedBy: string; comment?: string },
    ): Promise<unknown>;
  };
}

/**
 * Records the corpus through the auditor's public API: every standard event type, a custom one,
 * secrets in values at any depth, in keys, in Map keys, in errors and stacks.
 */
export async function recordCorpus(audit: CorpusAuditor): Promise<void> {
  const run = audit.startRun({
    agent: "corpus-bot",
    input: {
      task: `notify with xoxb-1234-${m5}`,
      db: `postgres://u:${m65}@h/db`,
      note: LOOK_ALIKES[2],
    },
  });
  const deep = { a: { b: { c: { d: { e: { apiToken: m55, pat: `github_pat_${m4}` } } } } } };
  await run.tool(
    "http",
    {
      key: `sk-proj-${m1}`,
      jwt: JWT,
      deep,
      list: ["ok", `password=${m56}`, `glpat-${m9}`, LOOK_ALIKES[0]],
      [`sk-proj-${m49}`]: "a secret used as a key",
      byToken: new Map([[`ghp_${m50}`, 1]]),
      password: m51,
      clientSecret: m52,
      headers: { authorization: m53, "x-api-key": m54, accept: "application/json" },
      sha: LOOK_ALIKES[1],
      email: LOOK_ALIKES[5],
    },
    () => ({
      body: `token ghp_${m3}`,
      key: pem,
      text: `Sent Bearer ${m15} upstream\nAuthorization: Basic ${m16}\nAuthorization: Digest username="a", response="${m17}"\nAuthorization: token ${m18}\nCookie: sid=${m19}; theme=dark\nSet-Cookie: auth=${m20}; HttpOnly\nX-Api-Key: ${m21}\nAccept: */*`,
      env: `DB_PASSWORD=${m22}\nPGPASSWORD=${m23} psql\nGITHUB_TOKEN=${m24}\nAWS_SECRET_ACCESS_KEY=${m25}\nexport MYSQL_PWD=${m26}`,
      json: JSON.stringify({ password: m27, user: "bob" }),
      json2: `{"api_key": "${m28}", "region": "eu"}`,
      json3: JSON.stringify(JSON.stringify({ client_secret: m29 })),
      json4: `{"access_token":"${m30}","expires_in":3600}`,
      yaml: `name: svc\nsecret: ${m66}\nreplicas: 2`,
      urls: [
        `postgres://app:${m31}@db.internal:5432/app`,
        `redis://:${m32}@cache:6379/0`,
        `amqp://guest:${m34}@mq.internal`,
        `https://x-access-token:${m35}@github.com/org/repo.git`,
        `https://api.example.com/v1?token=${m36}&page=2`,
        `https://api.example.com/v1?api_key=${m37}`,
        `https://acct.blob.example.net/c/b?sv=2024&sig=${m38}&se=2030`,
        `https://bucket.s3.example.com/o?X-Amz-Credential=x&X-Amz-Signature=${m39}`,
        `https://api.example.com/cb#access_token=${m40}`,
        LOOK_ALIKES[6],
      ],
      phrase: `password: correct horse battery ${m41}`,
      phrase2: `Passphrase: alpha bravo charlie ${m42}`,
      conn: [
        `Server=tcp:db;User Id=sa;Password=${m43};Encrypt=true`,
        `host=db user=app password=${m44} dbname=app`,
        `jdbc:mysql://db/app?user=app&password=${m45}`,
      ],
      prose: [LOOK_ALIKES[2], LOOK_ALIKES[3], LOOK_ALIKES[4], LOOK_ALIKES[7], LOOK_ALIKES[8]],
    }),
  );
  await run
    .tool("db", { host: "db" }, () => {
      const err = new Error(`login failed: password=${m46} for AKIA${m7}`);
      err.stack = `Error: login failed\n    at connect (mongodb+srv://u:${m33}@cluster0.example.net/db)\n    at pool (postgres://svc:${m47}@db/x)\n    at hf_${m12}`;
      throw err;
    })
    .catch(() => undefined);
  run.llm({
    model: "m",
    input: `my key is sk-ant-api03-${m2}; token=${m61}`,
    output: `OPENAI_API_KEY=${m62}`,
    inputTokens: 12,
  });
  run.policy({
    policy: "egress",
    decision: "deny",
    rule: `block AIza${m8}`,
    reason: `Authorization: Bearer ${m59}`,
  });
  run.action({
    actionType: "http",
    target: `https://admin:${m60}@internal.example/api`,
    status: "failed",
    params: { slack: `xoxp-${m6}` },
  });
  run.error(new Error(`upstream said Cookie: token=${m63}`));
  const approvalId = run.requestApproval({
    action: "refund",
    reason: `card token=${m57}`,
    options: { npm: `npm_${m10}` },
  });
  await audit.approvals.resolve(approvalId, {
    outcome: "approve",
    resolvedBy: "alice",
    comment: `use sk-proj-${m58}`,
  });
  audit.record({
    type: "custom.note",
    data: { text: `Proxy-Authorization: Basic ${m64}`, stripe: `sk_live_${m11}` },
  });
  await run.fail(new Error(`fatal: ghp_${m48}`));
}

/**
 * Events whose secrets sit in envelope fields and in a reserved `audit.checkpoint`: until the
 * auditor passes whole events through the privacy filter, these go through
 * `PrivacyFilter.apply` and straight into the store under test.
 */
export function envelopeCorpus(now: () => { id: string; time: string }): {
  id: string;
  type: string;
  time: string;
  actor?: string;
  sessionId?: string;
  runId?: string;
  spanId?: string;
  parentSpanId?: string;
  traceId?: string;
  data: Record<string, unknown>;
}[] {
  const a = now();
  const b = now();
  return [
    {
      ...a,
      type: "tool.start",
      actor: `sk-proj-${m67}`,
      sessionId: `ghp_${m68}`,
      runId: `run password=${m69}`,
      spanId: `AKIA${m70}`,
      parentSpanId: `AKIA${m70}`,
      traceId: `AKIA${m70}`,
      data: { tool: "x", callId: "c1", args: { q: LOOK_ALIKES[0] } },
    },
    {
      ...b,
      type: "audit.checkpoint",
      actor: `xoxb-1-${m72}`,
      data: {
        chainId: "0190c3a2-7b1e-7cc3-9d1f-3b2a1c0d9e8f",
        seq: 7,
        hash: LOOK_ALIKES[1].repeat(2).slice(0, 64),
        alg: "sha256",
        signature: CHECKPOINT_SIGNATURE,
        note: `password=${m71}`,
      },
    },
  ];
}

/** The markers found in `bytes` (text of a store's files, rows or an exporter's output). */
export function leakedMarkers(bytes: string): CorpusSecret[] {
  return CORPUS.filter((s) => bytes.includes(s.marker));
}

/** The look-alikes missing from `bytes`. */
export function lostLookAlikes(bytes: string): string[] {
  return LOOK_ALIKES.filter((l) => !bytes.includes(l));
}
