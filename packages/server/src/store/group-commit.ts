import type { Tx } from './tx.js';

/**
 * Group commit, the one mechanism behind `database.write` on both dialects. Write transactions that
 * arrive together (in the same turn of the event loop, or while the writers are busy) run in one
 * transaction on one connection, each in a savepoint of its own: one that fails is undone alone and
 * its caller gets its error, and every caller is answered only after the shared COMMIT. A commit
 * (a WAL sync) is most of what a small write costs; one commit for many pays it once.
 *
 * A dialect module supplies the connection (`WriteSession`) and how many groups may be open at
 * once: SQLite has one writer; PostgreSQL runs a few groups side by side on their own connections,
 * so that one group's round trips and commit overlap the next one's statements.
 *
 * A write function must not call `database.write` itself (it would wait for a group that waits for
 * it); pass its `tx` down instead.
 */
export interface WriteSession {
  readonly tx: Tx;
  /** BEGIN; with `savepoints` (several members), also the first member's savepoint. */
  begin(savepoints: boolean): Promise<void>;
  /** Between two members: keeps (ok) or undoes (not ok) the last one's writes, then the next one's savepoint. */
  next(lastOk: boolean): Promise<void>;
  /** COMMIT, after undoing the last member's writes if it failed. */
  commit(lastOk: boolean): Promise<void>;
  /** ROLLBACK of the whole group (a failure that is not one member's). */
  rollback(): Promise<void>;
  /** Whether the transaction is still open after a member failed (an error may have ended it). */
  usable(): boolean;
  /** Gives the connection back; `broken`: do not reuse it. */
  close(broken: boolean): void;
  /**
   * Where a lone statement commits by itself (PostgreSQL outside BEGIN), a transaction for a group
   * of one member that sends one statement (`write(fn, { oneStatement: true })`): no BEGIN and no
   * COMMIT, so one round trip instead of two and two statements fewer for the server. It refuses a
   * second statement (without sending it).
   */
  readonly oneStatementTx?: Tx;
  /**
   * The transaction for a member alone in its group, where the dialect pipelines: `tx` with
   * `settleAtCommit`, so the member may end before its last statement's answer and the COMMIT
   * follows that statement at once.
   */
  readonly loneTx?: Tx;
}

export interface WriteOptions {
  /**
   * `fn` sends at most one statement (e.g. one statement of data-modifying CTEs). Alone in its
   * group, it then runs without BEGIN/COMMIT where the dialect allows (`WriteSession.oneStatementTx`):
   * the statement is its own transaction, answered after its commit as any write.
   */
  oneStatement?: boolean;
}

export interface GroupCommitOptions {
  open(): Promise<WriteSession>;
  /** Groups open at once, each on its own connection. */
  lanes: number;
  /** Most members of one group (bounds how long a group holds its locks). */
  maxGroup: number;
  /** Errors after which a member runs again in a later group (e.g. a deadlock between two groups). */
  retryable?(e: unknown): boolean;
}

interface Member {
  fn: (tx: Tx) => Promise<unknown>;
  oneStatement: boolean;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  tries: number;
}

const MAX_TRIES = 3;

export class GroupCommit {
  private queue: Member[] = [];
  private scheduled = false;
  private running = 0;

  constructor(private readonly opts: GroupCommitOptions) {}

  write<T>(fn: (tx: Tx) => Promise<T>, opts: WriteOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const m = {
        fn,
        oneStatement: opts.oneStatement === true,
        resolve: resolve as (v: unknown) => void,
        reject,
        tries: 0,
      };
      this.queue.push(m);
      this.schedule();
    });
  }

  /** Starts groups after the poll phase, so the requests read in this turn join them. */
  private schedule(): void {
    if (this.scheduled || this.running >= this.opts.lanes) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    // What waits is shared among the free lanes (statements of different groups run in parallel;
    // the statements of one group run one after the other): with every lane busy, writes gather
    // and the next lane to come free takes them all (up to maxGroup).
    const free = this.opts.lanes - this.running;
    if (free <= 0 || this.queue.length === 0) return;
    const size = Math.min(this.opts.maxGroup, Math.ceil(this.queue.length / free));
    while (this.queue.length > 0 && this.running < this.opts.lanes) {
      const group = this.queue.splice(0, size);
      this.running++;
      void this.run(group).finally(() => {
        this.running--;
        // What waited meanwhile goes at once (it gathered while this group ran).
        this.start();
      });
    }
  }

  /** A member that failed alone: run again later when the error says so, else its caller gets it. */
  private failed(m: Member, e: unknown): boolean {
    if (m.tries < MAX_TRIES && this.opts.retryable?.(e)) {
      m.tries++;
      this.queue.push(m);
      this.schedule();
      return true;
    }
    m.reject(e);
    return false;
  }

  private async run(group: Member[]): Promise<void> {
    let s: WriteSession;
    try {
      s = await this.opts.open();
    } catch (e) {
      for (const m of group) m.reject(e);
      return;
    }
    if (group.length === 1 && group[0]!.oneStatement && s.oneStatementTx) return this.runAlone(s, group[0]!);
    const multi = group.length > 1;
    const done: [Member, unknown][] = [];
    const again = new Set<Member>();
    let broken = false;
    try {
      await s.begin(multi);
      let lastOk = true;
      for (let i = 0; i < group.length; i++) {
        const m = group[i]!;
        if (i > 0) await s.next(lastOk);
        try {
          done.push([m, await m.fn((!multi && s.loneTx) || s.tx)]);
          lastOk = true;
        } catch (e) {
          if (!multi || !s.usable()) throw e;
          // Only this member's writes are undone (at the next savepoint); the others go on.
          lastOk = false;
          if (this.failed(m, e)) again.add(m);
        }
      }
      await s.commit(lastOk);
    } catch (e) {
      await s.rollback().catch(() => {
        broken = true;
      });
      // Nothing of the group was committed. A lone member may be run again; in a larger group every
      // member fails (one already answered stays so).
      if (!multi) this.failed(group[0]!, e);
      else for (const m of group) if (!again.has(m)) m.reject(e);
      return;
    } finally {
      s.close(broken);
    }
    for (const [m, out] of done) m.resolve(out);
  }

  /** A lone one-statement member: its statement is its transaction (answered after it committed). */
  private async runAlone(s: WriteSession, m: Member): Promise<void> {
    let out: unknown;
    try {
      out = await m.fn(s.oneStatementTx!);
    } catch (e) {
      // The statement failed as a whole (nothing of it stays). An error the server answered leaves
      // the connection ready; any other (e.g. the connection broke) does not reuse it.
      s.close(typeof (e as { code?: unknown }).code !== 'string');
      this.failed(m, e);
      return;
    }
    s.close(false);
    m.resolve(out);
  }
}
