// The port every use case sends commands and events through; the Service Bus adapter
// (shared/adapters/servicebus/messageBus.ts) implements it.

export interface OutgoingMessage {
  readonly queue: string;
  readonly id: string;
  readonly type: string;
  readonly correlationId?: string;
  readonly body: unknown;
  /** Deliver no earlier than this (Service Bus scheduled enqueue). */
  readonly notBefore?: Date;
}

export interface MessageBus {
  send(message: OutgoingMessage): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
