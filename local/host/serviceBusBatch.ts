// The receive loop of a `cardinality: "many"` trigger, as the Service Bus extension (5.x) runs it: one loop
// per function asks for up to maxMessageBatchSize messages (receiveMessages), hands what came to one
// invocation, and receives again once that invocation is over and its messages are settled. Messages of a
// batch are not lock-renewed: maxAutoLockRenewalDuration applies to single-message triggers only.
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from "@azure/service-bus";

export interface BatchLoopOptions {
  readonly receiver: ServiceBusReceiver;
  readonly maxMessageCount: number;
  /** Invokes the function with the batch and settles its messages; must not throw. */
  readonly process: (messages: ServiceBusReceivedMessage[]) => Promise<void>;
  /** A failed receive (missing queue, broken link): the loop waits a moment and tries again. */
  readonly onError: (error: Error) => void;
}

/** How long one receive waits for a first message before asking again (so closing is noticed). */
const receiveWaitMs = 5_000;
const retryDelaysMs = [250, 1_000, 5_000];

/** Starts the loop; close() stops it from asking for more (a batch being processed finishes on its own). */
export function receiveBatches(options: BatchLoopOptions): { close(): Promise<void> } {
  let closed = false;
  let failures = 0;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  void (async () => {
    while (!closed) {
      let messages: ServiceBusReceivedMessage[];
      try {
        messages = await options.receiver.receiveMessages(options.maxMessageCount, { maxWaitTimeInMs: receiveWaitMs });
        failures = 0;
      } catch (error) {
        if (closed) return;
        options.onError(error instanceof Error ? error : new Error(String(error)));
        await pause(retryDelaysMs[Math.min(failures++, retryDelaysMs.length - 1)]);
        continue;
      }
      // Messages that arrive while the host shuts down still go to process, which gives them back.
      if (messages.length > 0) await options.process(messages);
    }
  })();
  return {
    close: async () => {
      closed = true;
      wake?.();
    },
  };
}
