// Placeholder until this phase lands: an honest "not yet", never fake output.
import { notImplemented } from "../scripts/lib/not_implemented.ts";
notImplemented();
