import type { Tx } from './tx.js';
import type { WriteOptions } from './group-commit.js';

/**
 * Many small writes of one kind as ONE member of a group commit (store/group-commit.ts): the
 * requests that arrive while the previous batch of the same kind runs its statements (until its
 * commit, when it handed its last statement to the commit: Tx.settleAtCommit) wait and then go
 * together, their statements sent side by side (PostgreSQL pipelines them: a round trip for all
 * instead of one each) with no savepoint between them, and are answered after the shared commit.
 *
 * Items with the same `key` (e.g. one run) run one after the other, in arrival order, so they see
 * each other's writes as if they had come one by one; items with different keys run at once and
 * must not touch the same rows. `run` may throw an error that `isolated` accepts (a domain error:
 * not found, not active) only before it wrote anything: that item fails alone and the others go
 * on. Any other error undoes the whole batch, and each item then runs again as a write of its own
 * (`database.write`), so one bad item never fails another.
 */
export interface WriteBatchOptions<I, O> {
  /** Items with the same key run in order; different keys at once. */
  key(item: I): string;
  run(tx: Tx, item: I): Promise<O>;
  /** Errors `run` throws before writing anything: the item fails alone. */
  isolated(e: unknown): boolean;
  /**
   * The whole batch at once (optional): fewer, larger statements than `run` item by item (e.g. one
   * statement over arrays of every item's values). Gets the items in arrival order and must keep
   * the order of items of one key itself; answers one outcome per item, in the same order. A
   * refused item (its outcome not ok) must have written nothing; a throw undoes the batch, and each
   * item then runs alone through `run`. Answering undefined (having written nothing) runs this
   * batch's items through `run` instead.
   */
  many?(tx: Tx, items: I[]): Promise<ItemOutcome<O>[] | undefined>;
  /**
   * `many` sends exactly one statement and never answers undefined: a batch then runs as a write of
   * one statement (`database.write`'s `oneStatement`: without BEGIN/COMMIT where the dialect allows).
   */
  manyIsOneStatement?: boolean;
  /** Most items of one batch (default 64). */
  maxItems?: number;
  /** Batches running their statements at once (default 2): the others wait and gather. */
  maxRunning?: number;
}

type Write = <T>(fn: (tx: Tx) => Promise<T>, opts?: WriteOptions) => Promise<T>;

interface Pending<I, O> {
  item: I;
  resolve(v: O): void;
  reject(e: unknown): void;
}

/** One item's answer from a batch: its value, or the error it alone fails with. */
export type ItemOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export class WriteBatch<I, O> {
  private queue: Pending<I, O>[] = [];
  /** Batches handed to `write` that have not finished their statements yet. */
  private running = 0;

  constructor(
    private readonly write: Write,
    private readonly opts: WriteBatchOptions<I, O>,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Starts the next batch unless one is still running its statements (then its end starts it). */
  private pump(): void {
    if (this.running >= (this.opts.maxRunning ?? 2) || this.queue.length === 0) return;
    this.running++;
    let taken: Pending<I, O>[] | undefined;
    let running = true;
    const released = () => {
      if (!running) return;
      running = false;
      this.running--;
      this.pump();
    };
    const done = this.write(
      async (tx) => {
        // Taken when the group runs it (not when handed over): what arrived meanwhile comes along.
        // A member run again (a deadlock between groups) keeps its items.
        taken ??= this.queue.splice(0, this.opts.maxItems ?? 64);
        // A batch that hands its last statement to the commit (Tx.settleAtCommit) has its
        // statements answered with the commit: its turn lasts until then.
        let settled = false;
        const inner: Tx = tx.settleAtCommit
          ? Object.create(tx, {
              settleAtCommit: {
                value: (sent: Promise<unknown>) => {
                  settled = true;
                  tx.settleAtCommit!(sent);
                },
              },
            })
          : tx;
        try {
          // (Empty when the batch before took everything that waited.)
          if (taken.length === 0) return [];
          return (this.opts.many && (await this.runMany(inner, taken))) || (await this.runAll(inner, taken));
        } finally {
          // Its statements are done; the next batch may start while this one commits.
          if (!settled) released();
        }
      },
      this.opts.many && this.opts.manyIsOneStatement ? { oneStatement: true } : undefined,
    );
    done.then(
      (outcomes) => {
        released();
        outcomes.forEach((o, i) => (o.ok ? taken![i]!.resolve(o.value) : taken![i]!.reject(o.error)));
      },
      (e: unknown) => {
        released();
        // Never run (no connection): the items that waited for it fail with it.
        const items = taken ?? this.queue.splice(0, this.opts.maxItems ?? 64);
        if (items.length === 1) items[0]!.reject(e);
        // Nothing of the batch was kept: each item alone, so one bad item fails only itself.
        else for (const p of items) this.write((tx) => this.opts.run(tx, p.item)).then(p.resolve, p.reject);
      },
    );
  }

  private async runMany(tx: Tx, items: Pending<I, O>[]): Promise<ItemOutcome<O>[] | undefined> {
    const out = await this.opts.many!(
      tx,
      items.map((p) => p.item),
    );
    if (out && out.length !== items.length)
      throw new Error(`a batch write answered ${out.length} outcomes for ${items.length} items`);
    return out;
  }

  private async runAll(tx: Tx, items: Pending<I, O>[]): Promise<ItemOutcome<O>[]> {
    const out = new Array<ItemOutcome<O>>(items.length);
    const chains = new Map<string, number[]>();
    items.forEach((p, i) => {
      const k = this.opts.key(p.item);
      const c = chains.get(k);
      if (c) c.push(i);
      else chains.set(k, [i]);
    });
    // Chains in key order (their first statements leave in that order: locks are taken in one order).
    const keys = [...chains.keys()].sort();
    let failure: { e: unknown } | undefined;
    await Promise.all(
      keys.map(async (k) => {
        for (const i of chains.get(k)!) {
          if (failure) return;
          try {
            out[i] = { ok: true, value: await this.opts.run(tx, items[i]!.item) };
          } catch (e) {
            if (!this.opts.isolated(e)) failure ??= { e };
            out[i] = { ok: false, error: e };
          }
        }
      }),
    );
    if (failure) throw failure.e;
    return out;
  }
}
