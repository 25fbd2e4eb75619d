import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { resolveEventId } from "../ids.js";
import { formatOf, formatOption, printEvents, ROW_FORMATS } from "../output.js";
import { STORE_OPTION, storeFrom } from "../store.js";

/** `audit get`: one event by id. */
export const get: Command = {
  def: {
    name: "get",
    summary: "one event by id",
    usage: ["get ID [-o json|jsonl|table|csv]"],
    description: "ID is the event's id, or a unique start or end of it.",
    options: [formatOption(ROW_FORMATS, "json"), STORE_OPTION],
    maxPositionals: 1,
    examples: ["audit get 01890a5d-ac96-774b-bcce-b302099a8057", "audit get 2099a8057 -o table"],
  },
  async run({ values, positionals }, io) {
    const shown = positionals[0];
    if (!shown) throw new UsageError("needs an event id");
    const format = formatOf(values, io, ROW_FORMATS, "json");
    const store = await storeFrom(values.store, io);
    try {
      const id = await resolveEventId(store, shown);
      const e = id === undefined ? undefined : await store.get(id);
      if (!e) {
        io.stderr.write(`audit get: no event with id ${shown}\n`);
        return 1;
      }
      if (format === "json") io.stdout.write(`${JSON.stringify(e, null, 2)}\n`);
      else printEvents([e], format, io);
    } finally {
      await store.close();
    }
    return 0;
  },
};
