import type { Command } from "../command.js";
import { approvals } from "./approvals.js";
import { copy } from "./copy.js";
import { doctor } from "./doctor.js";
import { evidence } from "./evidence.js";
import { get } from "./get.js";
import { prune } from "./prune.js";
import { query } from "./query.js";
import { run } from "./run.js";
import { serve } from "./serve.js";
import { stats } from "./stats.js";
import { tail } from "./tail.js";
import { verify } from "./verify.js";
import { verifyBundle } from "./verify-bundle.js";

/** Every command of `audit`, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  query,
  tail,
  get,
  run,
  stats,
  verify,
  copy,
  prune,
  approvals,
  doctor,
  serve,
  evidence,
  verifyBundle,
];
