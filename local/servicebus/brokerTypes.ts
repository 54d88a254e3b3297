// What the broker and the wire side exchange: receive modes, settlement dispositions, the messages
// handed out to receivers and peekers, and the errors a settlement or a lookup raises.
import type { BrokerAnnotations, ParsedMessage } from "./amqpEncoding.js";

export type ReceiveMode = "peekLock" | "receiveAndDelete";

export type AppProperties = Readonly<Record<string, unknown>>;

export type Disposition =
  | { readonly kind: "complete" }
  | { readonly kind: "abandon"; readonly properties?: AppProperties }
  | { readonly kind: "defer"; readonly properties?: AppProperties }
  | { readonly kind: "deadLetter"; readonly reason?: string; readonly description?: string; readonly properties?: AppProperties };

/** A message handed to a receiver or a peeker, ready for `encodeForDelivery`. */
export interface HandedOut {
  readonly message: ParsedMessage;
  readonly annotations: BrokerAnnotations;
  readonly lockToken: string | undefined;
}

export const brokerErrorCodes = { lockLost: "lockLost", messageNotFound: "messageNotFound" } as const;
export type BrokerErrorCode = (typeof brokerErrorCodes)[keyof typeof brokerErrorCodes];

export class BrokerError extends Error {
  override readonly name = "BrokerError";
  readonly code: BrokerErrorCode;
  constructor(code: BrokerErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
