// Every function definition of the app, in one list.
import type { FunctionDefinition } from "./definition.js";
import { healthFunctions } from "./health.js";

export function allDefinitions(): FunctionDefinition[] {
  return [...healthFunctions];
}
