// Batching for Table writes: whole devices' actions packed into transactions of at most 100
// operations (Table storage's limit, one partition), and requests run a few at a time.
import type { TransactionAction } from "@azure/data-tables";

/** Table storage's limit on the operations of one transaction. */
export const maxTransactionOperations = 100;

/** Packs whole devices' actions into transactions of at most 100 operations. */
export function pack<T>(items: readonly { item: T; actions: TransactionAction[] }[]): { items: T[]; actions: TransactionAction[] }[] {
  const batches: { items: T[]; actions: TransactionAction[] }[] = [];
  let current: { items: T[]; actions: TransactionAction[] } = { items: [], actions: [] };
  for (const { item, actions } of items) {
    if (current.actions.length + actions.length > maxTransactionOperations) {
      batches.push(current);
      current = { items: [], actions: [] };
    }
    current.items.push(item);
    current.actions.push(...actions);
  }
  if (current.actions.length > 0) batches.push(current);
  return batches;
}

/**
 * Runs `run` over `items` with at most `size` in flight: the next item starts as soon as one
 * finishes (not chunk by chunk, which leaves storage idle while a chunk's slowest request
 * ends and the next chunk is serialized). After a failure no new item starts; the first
 * error is thrown once the items in flight have settled.
 */
export async function inParallel<T>(items: readonly T[], size: number, run: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await run(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
  if (failure) throw failure.error;
}
