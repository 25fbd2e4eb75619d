export { appendInChunks, ids, makeEvent, makeEvents, shuffle, sorted, timeAt } from "./events.js";
export {
  type Fixture,
  type Matchers,
  type StoreHarness,
  type TestApi,
  useStore,
} from "./harness.js";
export { killRecorderAtRandom, raceApprovalResolvers, runConcurrentWriters } from "./processes.js";
export {
  appendSuite,
  approvalsSuite,
  badInputSuite,
  filterSuite,
  lifecycleSuite,
  paginationSuite,
  pruneSuite,
  runStoreConformance,
  streamSuite,
} from "./suites.js";
export { type RawTamper, type TamperHarness, tamperSuite } from "./tamper.js";
