// Batching for Table writes: whole devices' actions packed into transactions of at most 100
// operations (Table storage's limit, one partition), and work run a few at a time.
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

/** Runs `run` over `items`, `size` at a time. */
export async function inBatches<T>(items: readonly T[], size: number, run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}
