import type { StoreHarness, TestApi } from "../harness.js";
import { appendSuite } from "./append.js";
import { approvalsSuite } from "./approvals.js";
import { badInputSuite } from "./bad-input.js";
import { lifecycleSuite } from "./close-and-reopen.js";
import { filterSuite } from "./filters.js";
import { getCountSuite } from "./get-and-count.js";
import { multiProcessSuite } from "./multi-process.js";
import { paginationSuite } from "./order-and-paging.js";
import { pruneSuite } from "./retention.js";
import { streamSuite } from "./stream.js";
import { subscribeSuite } from "./subscribe.js";
import { verifySuite } from "./verify.js";

export {
  appendSuite,
  approvalsSuite,
  badInputSuite,
  filterSuite,
  getCountSuite,
  lifecycleSuite,
  multiProcessSuite,
  paginationSuite,
  pruneSuite,
  streamSuite,
  subscribeSuite,
  verifySuite,
};

/**
 * Every area, in the order a failing store is easiest to debug. Each runs according to the
 * capabilities the store declares (`persistent` → close and reopen, `multiProcess` → several
 * processes, `subscribe` → live tail) and the optional methods it has (`storedRows`,
 * `onRetention`); a test that does not apply is skipped with the reason, and an undeclared
 * capability is checked to be refused cleanly.
 *
 * @example
 * import { describe, it, expect } from "vitest";
 * import { runStoreConformance } from "@audit/test-suite";
 * runStoreConformance({ describe, it, expect }, { name: "MyStore", create: () => new MyStore() });
 */
export function runStoreConformance(t: TestApi, harness: StoreHarness): void {
  appendSuite(t, harness);
  badInputSuite(t, harness);
  getCountSuite(t, harness);
  paginationSuite(t, harness);
  filterSuite(t, harness);
  streamSuite(t, harness);
  pruneSuite(t, harness);
  approvalsSuite(t, harness);
  lifecycleSuite(t, harness);
  subscribeSuite(t, harness);
  multiProcessSuite(t, harness);
  verifySuite(t, harness);
}
