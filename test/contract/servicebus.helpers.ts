// Shared set-up for the Service Bus emulator contract tests: queue definitions and receive helpers.
import { isServiceBusError, type ServiceBusReceivedMessage, type ServiceBusReceiver } from "@azure/service-bus";
import type { QueueDefinition } from "../../shared/queueDefinitions.js";

/** A queue definition with roomy defaults; tests shorten what they exercise. */
export function queue(name: string, overrides: Partial<QueueDefinition> = {}): QueueDefinition {
  return {
    name,
    lockDuration: "PT30S",
    maxDeliveryCount: 10,
    requiresDuplicateDetection: false,
    duplicateDetectionHistoryTimeWindow: "PT10M",
    defaultMessageTimeToLive: "P1D",
    deadLetteringOnMessageExpiration: true,
    ...overrides,
  };
}

/** Receives until `count` messages arrived or `timeoutMs` passed; returns what arrived. */
export async function receiveUpTo(receiver: ServiceBusReceiver, count: number, timeoutMs = 5_000): Promise<ServiceBusReceivedMessage[]> {
  const received: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (received.length < count && Date.now() < deadline) {
    const batch = await receiver.receiveMessages(count - received.length, { maxWaitTimeInMs: Math.max(100, deadline - Date.now()) });
    received.push(...batch);
  }
  return received;
}

/** The Service Bus error code a rejected promise carries, or "resolved". */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (error) {
    return isServiceBusError(error) ? error.code : `not a ServiceBusError: ${String(error)}`;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
