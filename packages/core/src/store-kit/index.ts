/**
 * `@audit/core/store-kit`: what store adapters share, so each keeps only its dialect and its I/O.
 * A third-party store uses the same parts (see `examples/custom-store/`).
 */
export {
  isProcessAlive,
  parseProcessIdentity,
  processIdentity,
  sameProcessAlive,
} from "../durable/process-identity.js";
export {
  compareEvents,
  cursorNotFound,
  eventMatches,
  isAfterCursor,
  parseTime,
  prefixUpperBound,
  type ResolvedFilter,
  resolveFilter,
  resolvePrune,
  typeMatches,
} from "../filter.js";
export { eventDataText, eventText } from "../integrity/event-text.js";
export { assertValidBatch, assertValidEvent, isEventTime } from "../validate.js";
export { describeStore } from "./describe.js";
export { columnArrays, type EventColumns, eventColumns } from "./event-row.js";
export { type CursorKey, cursorOf, type KeysetOptions, keysetPages } from "./keyset.js";
export {
  compileFilter,
  DEFAULT_COLUMNS,
  type FilterField,
  orderBy,
  type SqlCondition,
  type SqlDialect,
} from "./sql-filter.js";
export { type GroupCount, NO_VALUE, StatsCollector, statsFromGroups, trailStats } from "./stats.js";
export {
  type ReadUrlParamsOptions,
  readUrlParams,
  splitStoreUrl,
  type UrlParam,
  type UrlParamValue,
  type UrlParamValues,
} from "./url-params.js";
