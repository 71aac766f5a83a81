// Placeholder until this phase lands: an honest "not yet", never fake output.
import { notImplemented } from "./lib/not_implemented.ts";
notImplemented();
