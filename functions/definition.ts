// A function definition as data: what the Azure host gets through app.* and what the
// local host (local/host) and unit tests read directly.
import type { HttpFunctionOptions, ServiceBusQueueFunctionOptions, TimerFunctionOptions } from "@azure/functions";

export type FunctionDefinition =
  | { readonly name: string; readonly kind: "http"; readonly options: HttpFunctionOptions }
  | { readonly name: string; readonly kind: "serviceBusQueue"; readonly options: ServiceBusQueueFunctionOptions }
  | { readonly name: string; readonly kind: "timer"; readonly options: TimerFunctionOptions };

export const http = (name: string, options: HttpFunctionOptions): FunctionDefinition => ({ name, kind: "http", options });
export const serviceBusQueue = (name: string, options: ServiceBusQueueFunctionOptions): FunctionDefinition => ({
  name,
  kind: "serviceBusQueue",
  options,
});
export const timer = (name: string, options: TimerFunctionOptions): FunctionDefinition => ({ name, kind: "timer", options });
