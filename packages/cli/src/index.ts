export { type CliIo, main } from "./cli.js";
export { EXIT } from "./exit-codes.js";
export { CSV_COLUMNS, csvHeader, csvRow, type Format, summarize, table } from "./format.js";
