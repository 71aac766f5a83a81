/**
 * Imported first by modules that load npm packages which `require("punycode")`
 * (the schema validators): silences Node's DEP0040 deprecation notice, which
 * would otherwise print on every `deno task validate` run. Other warnings stay.
 */
import process from "node:process";

const emit = process.emitWarning.bind(process);
// deno-lint-ignore no-explicit-any
(process as any).emitWarning = (warning: string | Error, ...rest: any[]) => {
  const text = typeof warning === "string" ? warning : warning?.message ?? "";
  const code = typeof rest[0] === "object" ? rest[0]?.code : rest[1];
  if (code === "DEP0040" || /punycode/.test(text)) return;
  return emit(warning, ...rest);
};
