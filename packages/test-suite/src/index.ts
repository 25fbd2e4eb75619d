export { appendInChunks, ids, makeEvent, makeEvents, shuffle, sorted, timeAt } from "./events.js";
export {
  type Fixture,
  HarnessError,
  type Matchers,
  type ProcessHarness,
  type StoreHarness,
  type TestApi,
  type TestContext,
  useStore,
} from "./harness.js";
export {
  type ChildStoreOptions,
  killRecorderAtRandom,
  raceApprovalResolvers,
  runConcurrentWriters,
} from "./processes.js";
export {
  type Applies,
  all,
  declares,
  declaresNot,
  offers,
  type StoreTest,
  type StoreTestOptions,
  storeTests,
} from "./store-tests.js";
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
  runStoreConformance,
  streamSuite,
  subscribeSuite,
  verifySuite,
} from "./suites/index.js";
export { type RawTamper, type TamperHarness, tamperSuite } from "./tamper.js";
export { waitUntil } from "./wait.js";
