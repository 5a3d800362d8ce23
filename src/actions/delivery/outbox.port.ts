/** Where deliveries wait and what happened to them; only an adapter knows its driver. */

export type DeliveryState = 'pending' | 'delivered' | 'parked';

export interface NewDelivery {
  targetId: string;
  /** The user the event is of: deliveries of one user to one target go in order. */
  aggregateId: string;
  eventType: string;
  /** The event's number in the user's stream, from 1. */
  sequence: number;
  /** The event's global position: a target gets an event once however often the fan-out sees it. */
  position: number;
  /** The JSON POSTed, made once so that every try sends the same bytes. */
  body: string;
}

export interface Delivery extends NewDelivery {
  id: number;
  state: DeliveryState;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date;
  createdAt: Date;
}

export type RedeliverOutcome = 'redelivered' | 'not_found' | 'not_parked' | 'target_deleted';

export interface DeliverySearch {
  targetId?: string;
  state?: DeliveryState;
  offset: number;
  limit: number;
  /** Oldest first; else newest first. */
  ascending?: boolean;
}

export interface DeliveryPage {
  total: number;
  deliveries: Delivery[];
}

export interface OutboxStore {
  readonly backend: string;
  /** Creates the tables when missing. */
  prepare(): Promise<void>;
  /** How far the fan-out got in the log, and the targets and executions as of there (JSON). */
  checkpoint(): Promise<{ position: number; config: string | null }>;
  /**
   * In one transaction: adds the deliveries (one already there is left as it is), parks what is
   * pending for removed targets, and moves the checkpoint to `position` with the configuration.
   */
  commit(deliveries: readonly NewDelivery[], removedTargets: readonly string[], position: number, config: string, now: Date): Promise<void>;
  /**
   * Pending deliveries of the target that are first in line for their user and due by `now`,
   * oldest first: a delivery waits while an earlier one to the same target for the same user is pending.
   */
  due(targetId: string, now: Date, limit: number): Promise<Delivery[]>;
  /** A try that succeeded, at `at`. */
  delivered(id: number, attempts: number, at: Date): Promise<void>;
  /** A failed try: next try at `nextAttemptAt`, or parked when that is null. */
  failed(id: number, attempts: number, error: string, nextAttemptAt: Date | null): Promise<void>;
  /** A page of the deliveries that match, newest first unless `ascending`, and how many match in all. */
  search(search: DeliverySearch): Promise<DeliveryPage>;
  /**
   * Puts a parked delivery back in line, due now, with its tries counted from 0; not one whose
   * target no longer exists (nothing would ever send it).
   */
  redeliver(id: number, now: Date, targetExists: (targetId: string) => boolean): Promise<RedeliverOutcome>;
  /**
   * Removes up to `limit` deliveries delivered before `deliveredBefore`; answers how many. Pending
   * and parked ones stay: they still wait for a try or an admin.
   */
  pruneDelivered(deliveredBefore: Date, limit: number): Promise<number>;
  /** The creation time of each target's oldest pending delivery. */
  oldestPending(): Promise<Map<string, Date>>;
  /** Takes the lease of the sender, or keeps it; false while another process holds it. */
  tryLease(): Promise<boolean>;
  /** False once the lease was lost (its connection broke). */
  holdsLease(): Promise<boolean>;
  close(): Promise<void>;
}

export const OUTBOX_STORE = Symbol('OutboxStore');
