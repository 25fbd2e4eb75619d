import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AuditConfigError,
  type AuditEvent,
  type AuditExporter,
  Auditor,
  type CheckpointData,
  checkpointSignatureValid,
  hashEvent,
  MemoryStore,
  openStore,
  PrivacyFilter,
  REDACTED,
  scrubString,
  verifyChain,
} from "../src/index.js";

const KEY = "privacy-key-0123456789abcdef";

const pem = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
  type: "pkcs8",
  format: "pem",
}) as string;
const SECRETS = {
  openai: "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
  anthropic: "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx",
  aws: "AKIAIOSFODNN7EXAMPLE",
  github: "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
  google: "AIzaSyA-1234567890abcdefghijklmnopqrstu",
  slack: "xoxb-123456789012-abcdefghij",
  stripe: "sk_live_AbCdEfGhIjKlMnOp1234",
  jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlX2J5dGVz",
  bearer: "Bearer abc.def-ghi_jkl~mno",
  pem,
};

function event(type: string, data: Record<string, unknown>): AuditEvent {
  return { id: "e1", type, time: "2026-01-01T00:00:00.000Z", data };
}

function assertNoSecret(text: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) {
    const needle =
      name === "bearer" ? "abc.def-ghi_jkl~mno" : name === "pem" ? "PRIVATE KEY-----\n" : secret;
    expect(text, `${name} leaked`).not.toContain(needle);
  }
  expect(text).not.toContain("hunter2");
  expect(text).not.toContain("s3cr3t-value");
}

describe("secret scrubbing", () => {
  it("replaces every kind of secret inside strings", () => {
    for (const [name, secret] of Object.entries(SECRETS)) {
      const out = scrubString(`before ${secret} after`);
      expect(out, name).toMatch(/\[REDACTED:[a-z-]+\]/);
      expect(out.startsWith("before ")).toBe(true);
    }
    expect(scrubString("postgres://app:hunter2@db:5432/x")).toBe(
      "postgres://app:[REDACTED:url-password]@db:5432/x",
    );
    expect(scrubString("login password=hunter2&user=bob")).toBe(
      "login password=[REDACTED:secret-assignment]&user=bob",
    );
    expect(scrubString("Authorization: Bearer abcdefgh12345")).toBe(
      "Authorization: Bearer [REDACTED:secret-assignment]",
    );
    expect(scrubString("sent Bearer abcdefgh12345 upstream")).toBe(
      "sent Bearer [REDACTED:bearer-token] upstream",
    );
    expect(scrubString("a perfectly normal sentence about tokens and keys")).toBe(
      "a perfectly normal sentence about tokens and keys",
    );
  });

  it("holds for nested values, arrays, values inside errors, and secret-named keys, in every mode", () => {
    const err = new Error(`request failed with key ${SECRETS.openai}`);
    const data = {
      args: {
        headers: { Authorization: SECRETS.bearer, "x-api-key": "s3cr3t-value" },
        list: [SECRETS.aws, { deep: [SECRETS.github] }],
        password: "hunter2",
        apiKey: "s3cr3t-value",
        inputTokens: 1200,
      },
      error: { name: "Error", message: err.message, stack: `Error: ${err.message}\n    at x` },
      note: `token=${SECRETS.slack} and ${SECRETS.jwt} and ${SECRETS.pem}`,
      config: { db: { privateKey: SECRETS.pem, clientSecret: "s3cr3t-value" } },
    };
    for (const mode of ["full", "keys-only", "hashed", "none"] as const) {
      const out = new PrivacyFilter({ mode, key: KEY }).apply(event("tool.start", data));
      assertNoSecret(JSON.stringify(out));
    }
    const full = new PrivacyFilter().apply(event("tool.start", data)).data as Record<
      string,
      Record<string, unknown>
    >;
    expect(full.args!.password).toBe("[REDACTED]");
    expect(full.args!.inputTokens).toBe(1200);
    expect(full.args!.headers).toEqual({ Authorization: "[REDACTED]", "x-api-key": "[REDACTED]" });
    expect(full.config!.db).toEqual({ privateKey: "[REDACTED]", clientSecret: "[REDACTED]" });
  });

  it("keeps counts whose names only look like secrets", () => {
    const out = new PrivacyFilter().apply(
      event("llm.end", { model: "m", inputTokens: 5, outputTokens: 7, maxTokens: 10 }),
    );
    expect(out.data).toEqual({ model: "m", inputTokens: 5, outputTokens: 7, maxTokens: 10 });
  });

  it("accepts extra detectors and key patterns", () => {
    const f = new PrivacyFilter({
      scrub: { patterns: [{ name: "employee-id", pattern: /\bEMP-\d{6}\b/g }], keys: /^ssn$/i },
    });
    const out = f.apply(event("x", { note: "for EMP-123456", ssn: "123-45-6789" }));
    expect(out.data).toEqual({ note: "for [REDACTED:employee-id]", ssn: "[REDACTED]" });
  });
});

describe("privacy modes", () => {
  const data = {
    tool: "crm",
    callId: "c1",
    args: { email: "dana@example.com", amount: 42, tags: ["vip"] },
    result: { ok: true },
  };

  it("full keeps values; keys-only keeps structure; none drops content; metadata stays", () => {
    expect(new PrivacyFilter({ mode: "full" }).apply(event("tool.start", data)).data).toEqual(data);
    expect(new PrivacyFilter({ mode: "keys-only" }).apply(event("tool.start", data)).data).toEqual({
      tool: "crm",
      callId: "c1",
      args: { email: REDACTED, amount: REDACTED, tags: [REDACTED] },
      result: { ok: REDACTED },
    });
    expect(new PrivacyFilter({ mode: "none" }).apply(event("tool.start", data)).data).toEqual({
      tool: "crm",
      callId: "c1",
    });
  });

  it("hashed uses a keyed HMAC: comparable, not a bare hash, different under another key", () => {
    const a = new PrivacyFilter({ mode: "hashed", key: KEY });
    const b = new PrivacyFilter({ mode: "hashed", key: "another-key-0123456789" });
    const out = a.apply(event("tool.start", data)).data as { args: Record<string, string> };
    expect(out.args.email).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    expect(out.args.email).toBe(a.hashValue("dana@example.com"));
    const bare = createHash("sha256").update("dana@example.com").digest("hex").slice(0, 32);
    expect(out.args.email).not.toContain(bare);
    expect((b.apply(event("tool.start", data)).data as typeof out).args.email).not.toBe(
      out.args.email,
    );
    expect(() => new PrivacyFilter({ mode: "hashed" })).toThrow(AuditConfigError);
    expect(() => new PrivacyFilter({ mode: "hashed", key: "short" })).toThrow(/16 bytes/);
    expect(() => new PrivacyFilter({ mode: "secret" as "full" })).toThrow(/mode must be/);
  });

  it("applies per type and per field, the most specific rule winning", () => {
    const f = new PrivacyFilter({
      mode: "full",
      key: KEY,
      types: { "tool.*": "keys-only", "tool.end": "none" },
      fields: { "args.amount": "full", "tool.start:args.email": "hashed" },
    });
    expect(f.apply(event("tool.start", data)).data).toEqual({
      tool: "crm",
      callId: "c1",
      args: { email: f.hashValue("dana@example.com"), amount: 42, tags: [REDACTED] },
      result: { ok: REDACTED },
    });
    expect(f.apply(event("tool.end", data)).data).toEqual({
      tool: "crm",
      callId: "c1",
      args: { amount: 42 },
    });
    expect(f.apply(event("custom.thing", data)).data).toEqual(data);
  });

  it("keeps model content out unless enabled", () => {
    const llm = {
      model: "m",
      input: [{ role: "user", content: "my secret plan" }],
      output: "ok",
      inputTokens: 3,
    };
    expect(new PrivacyFilter().apply(event("llm.end", llm)).data).toEqual({
      model: "m",
      inputTokens: 3,
    });
    expect(new PrivacyFilter({ captureContent: true }).apply(event("llm.end", llm)).data).toEqual(
      llm,
    );
    expect(
      new PrivacyFilter({ captureContent: true, mode: "keys-only" }).apply(event("llm.start", llm))
        .data,
    ).toMatchObject({
      input: [{ role: REDACTED, content: REDACTED }],
    });
  });

  it("caps every string and every event", () => {
    const f = new PrivacyFilter({ maxStringLength: 100, maxEventBytes: 2000 });
    const long = f.apply(event("x", { s: "a".repeat(1000) })).data as { s: string };
    expect(long.s).toBe(`${"a".repeat(100)}…[truncated 900 chars]`);
    const wide = f.apply(
      event(
        "x",
        Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "b".repeat(90)])),
      ),
    );
    expect(Buffer.byteLength(JSON.stringify(wide.data))).toBeLessThanOrEqual(2000);
    const huge = f.apply(
      event("x", Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, i]))),
    );
    expect(huge.data).toMatchObject({ $truncated: true });
    expect(Buffer.byteLength(JSON.stringify(huge.data))).toBeLessThanOrEqual(2000);
  });
});

describe("privacy in the auditor", () => {
  it("nothing secret reaches the store or an exporter, and the chain covers the redacted events", async () => {
    const store = new MemoryStore();
    const exported: AuditEvent[] = [];
    const exporter: AuditExporter = {
      id: "spy",
      async export(batch) {
        exported.push(...structuredClone(batch));
      },
    };
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [exporter],
      privacy: { mode: "full" },
    });
    const run = audit.startRun({ agent: "bot", input: `use key ${SECRETS.openai}` });
    await run.tool(
      "http",
      { url: "https://api:hunter2@x.test", headers: { authorization: SECRETS.bearer } },
      () => ({
        body: `token ${SECRETS.github}`,
      }),
    );
    await run
      .tool("db", { password: "hunter2" }, () => {
        throw new Error(`connect failed: password=hunter2 key=${SECRETS.stripe}`);
      })
      .catch(() => undefined);
    run.llm({ model: "m", input: `prompt with ${SECRETS.aws}`, output: SECRETS.jwt });
    run.error(new Error(`oops ${SECRETS.slack}`));
    const id = run.requestApproval({ action: "pay", reason: `card token=s3cr3t-value` });
    await audit.approvals.resolve(id, {
      outcome: "approve",
      resolvedBy: "alice",
      comment: `use ${SECRETS.anthropic}`,
    });
    await run.fail(new Error(`fatal ${SECRETS.google} ${SECRETS.pem}`));
    await audit.close();
    const stored = await store.query();
    expect(stored.length).toBeGreaterThan(8);
    assertNoSecret(JSON.stringify(stored));
    assertNoSecret(JSON.stringify(exported));
    expect((await verifyChain(store)).ok).toBe(true);
  });

  it("can be turned off explicitly", async () => {
    const store = new MemoryStore();
    const audit = new Auditor({ store, spool: false, privacy: false });
    audit.record({ type: "x", data: { password: "hunter2" } });
    await audit.close();
    expect(JSON.stringify(await store.query())).toContain("hunter2");
  });
});

describe("custom patterns", () => {
  it("redact every occurrence whatever their flags and capture groups", () => {
    const text = "ids EMP-123456, EMP-654321 and emp-111111";
    for (const pattern of [
      /EMP-\d{6}/,
      /EMP-\d{6}/g,
      /EMP-\d{6}/y,
      /(EMP)-(\d{6})/,
      /(?<prefix>EMP)-\d{6}/gi,
    ]) {
      const f = new PrivacyFilter({ scrub: { patterns: [{ name: "employee", pattern }] } });
      const out = f.apply(event("x", { note: text })).data.note as string;
      expect(out, String(pattern)).not.toContain("123456");
      expect(out, String(pattern)).not.toContain("654321");
      if (pattern.flags.includes("i")) expect(out).not.toContain("111111");
      // The caller's RegExp is left as it was.
      expect(pattern.lastIndex).toBe(0);
    }
  });

  it("are refused at configuration when they could backtrack, with a message saying why", () => {
    expect(
      () =>
        new PrivacyFilter({
          scrub: { patterns: [{ name: "emails", pattern: /[\w.]+@corp\.com/ }] },
        }),
    ).toThrow(/"emails" .* is refused: "\+" repeats without bound/);
  });
});

describe("hashed mode", () => {
  it("hashes a type-tagged value, so values of different types never share a hash", () => {
    const f = new PrivacyFilter({ mode: "hashed", key: KEY });
    const values = [1, "1", true, "true", null, "null", 0, "", "0"];
    const hashes = values.map((v) => f.hashValue(v));
    expect(new Set(hashes).size).toBe(values.length);
    // The documented input: "<type>:<JSON text>", HMAC-SHA-256 under the key, first 32 hex digits.
    const expected = (text: string) =>
      `hmac-sha256:${createHmac("sha256", KEY).update(text).digest("hex").slice(0, 32)}`;
    expect(f.hashValue(1)).toBe(expected("number:1"));
    expect(f.hashValue("1")).toBe(expected('string:"1"'));
    expect(f.hashValue(null)).toBe(expected("null:null"));
    const out = f.apply(event("tool.start", { tool: "t", args: { a: 1, b: "1" } })).data as {
      args: { a: string; b: string };
    };
    expect(out.args.a).not.toBe(out.args.b);
  });
});

describe("every position of an event", () => {
  it("scrubs envelope fields, object keys and keeps ids, types and times", () => {
    const f = new PrivacyFilter();
    const e: AuditEvent = {
      id: "0190c3a2-7b1e-7cc3-9d1f-3b2a1c0d9e8f",
      type: "tool.start",
      time: "2026-01-01T00:00:00.000Z",
      actor: `deploy-bot ${SECRETS.openai}`,
      sessionId: SECRETS.github,
      runId: "run-1",
      data: { [SECRETS.aws]: 1, [`x ${SECRETS.aws}`]: 2, plain: 3 },
    };
    const out = f.apply(e);
    expect(out.actor).toBe("deploy-bot [REDACTED:openai-key]");
    expect(out.sessionId).toBe("[REDACTED:github-token]");
    expect(out.runId).toBe("run-1");
    expect(out.id).toBe(e.id);
    expect(out.data).toEqual({
      "[REDACTED:aws-access-key]": 1,
      "x [REDACTED:aws-access-key]": 2,
      plain: 3,
    });
    // Two keys that scrub to the same text are both kept.
    const twice = f.apply(event("x", { [SECRETS.aws]: 1, AKIAABCDEFGHIJKLMNOP: 2 }));
    expect(Object.values(twice.data).sort()).toEqual([1, 2]);
    expect(JSON.stringify(twice.data)).not.toContain("AKIA");
  });

  it("applies to audit.checkpoint events without touching their hashes and signatures", () => {
    const f = new PrivacyFilter({ mode: "keys-only" });
    const data = {
      chainId: "0190c3a2-7b1e-7cc3-9d1f-3b2a1c0d9e8f",
      seq: 12,
      hash: "9fceb02d0ae598e95dc970b74767f19372d61af89fceb02d0ae598e95dc970b7",
      alg: "hmac-sha256",
      keyId: "k1",
      signature:
        "Zm9v+AIzaSyA1234567890abcdefghijklmnopqrs/ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789==",
      note: `token=${SECRETS.slack}`,
    };
    const out = f.apply({ ...event("audit.checkpoint", data), actor: SECRETS.slack });
    expect(out.data).toEqual({ ...data, note: "token=[REDACTED:secret-assignment]" });
    expect(out.actor).toBe("[REDACTED:slack-token]");
    // Integrity fields holding text that is not hex or base64 are scrubbed like any other.
    const forged = f.apply(event("audit.checkpoint", { hash: `password: ${SECRETS.slack}` }));
    expect(JSON.stringify(forged)).not.toContain(SECRETS.slack);
  });

  it("never splits a surrogate pair when it cuts a string", () => {
    const f = new PrivacyFilter({ maxStringLength: 16 });
    const s = `${"a".repeat(15)}😀${"b".repeat(10)}`;
    const out = f.apply(event("x", { s })).data.s as string;
    expect(out.startsWith("a".repeat(15))).toBe(true);
    expect(out.charCodeAt(15)).not.toBe(0xd83d);
    expect(out).toBe(`${"a".repeat(15)}…[truncated 12 chars]`);
    expect(() => encodeURIComponent(out)).not.toThrow();
  });
});

describe("store URL errors", () => {
  it("never repeat a password or token from the URL", async () => {
    for (const url of [
      "mysql://app:hunter2-registry@db/x",
      "nope:?token=hunter2-registry",
      "://app:hunter2-registry@db",
    ]) {
      const err = await openStore(url).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(AuditConfigError);
      expect((err as Error).message).not.toContain("hunter2-registry");
    }
  });
});

describe("real checkpoints through the filter", () => {
  it("come out byte for byte: hashes, signatures and chain links still verify", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const store = new MemoryStore();
    const audit = new Auditor({
      store,
      spool: false,
      actor: "auditor-1",
      integrity: { key: KEY, signingKey: privateKey, checkpointEvery: 3 },
    });
    for (let i = 0; i < 20; i++) audit.record({ type: "note.added", data: { i } });
    await audit.close();
    const checkpoints = (await store.query()).filter((e) => e.type === "audit.checkpoint");
    expect(checkpoints.length).toBeGreaterThan(5);
    const filter = new PrivacyFilter({ mode: "keys-only" });
    for (const e of checkpoints) {
      const out = filter.apply(e);
      expect(out).toEqual(e);
      expect(hashEvent(out, KEY)).toBe(e.chain!.hash);
      expect(checkpointSignatureValid(out.data as unknown as CheckpointData, publicKey)).toBe(true);
    }
  });
});
