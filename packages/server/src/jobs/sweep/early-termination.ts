import type { EarlyTermination } from './spec.js';

/**
 * Early termination of a sweep's running trials, from the primary metric each trial has reported
 * (one report = one interval, as Azure ML counts them). A policy is applied at interval k when
 * k ≥ delayEvaluation and k is a multiple of evaluationInterval; a running trial is judged at the
 * last such interval it reached that another trial reached too, against every trial (running or
 * ended) that reached it:
 * - Bandit: its value at k is outside the slack of the best value at k (slackFactor: below
 *   best / (1 + f) when maximising, above best × (1 + f) when minimising; slackAmount: best ∓ a);
 * - MedianStopping: its best value up to k is worse than the median of the other trials' running
 *   averages up to k;
 * - TruncationSelection: its value at k is among the worst truncationPercentage % at k.
 */

export interface TrialSeries {
  name: string;
  running: boolean;
  /** The primary metric's values in the order reported. */
  values: number[];
}

export function evaluationPoint(policy: EarlyTermination, reported: number): number | undefined {
  const first = Math.max(policy.delayEvaluation, 1);
  if (reported < first) return undefined;
  const k = reported - (reported % policy.evaluationInterval);
  return k >= first ? k : undefined;
}

/** The running trials to stop now, with why. */
export function toTerminate(
  policy: EarlyTermination,
  goal: 'Maximize' | 'Minimize',
  trials: TrialSeries[],
): { name: string; reason: string }[] {
  const max = goal === 'Maximize';
  const better = (a: number, b: number) => (max ? a > b : a < b);
  const out: { name: string; reason: string }[] = [];
  for (const t of trials) {
    if (!t.running) continue;
    // The last evaluation interval it reached that another trial reached too (a trial that ended
    // early still counts for the intervals it reported).
    let k = evaluationPoint(policy, t.values.length);
    while (k !== undefined && !trials.some((o) => o !== t && o.values.length >= k!)) k = evaluationPoint(policy, k - 1);
    if (k === undefined) continue;
    const peers = trials.filter((o) => o.values.length >= k!);
    const others = peers.filter((o) => o !== t);
    const v = t.values[k - 1]!;
    if (policy.policyType === 'Bandit') {
      const best = peers.map((o) => o.values[k - 1]!).reduce((a, b) => (better(b, a) ? b : a));
      let bound: number;
      if (policy.slackFactor) bound = max ? best / (1 + policy.slackFactor) : best * (1 + policy.slackFactor);
      else bound = max ? best - policy.slackAmount! : best + policy.slackAmount!;
      if (max ? v < bound : v > bound)
        out.push({
          name: t.name,
          reason: `Bandit policy at interval ${k}: ${v} is outside the slack of the best value ${best} (bound ${bound})`,
        });
    } else if (policy.policyType === 'MedianStopping') {
      const averages = others.map((o) => o.values.slice(0, k).reduce((a, b) => a + b, 0) / k).sort((a, b) => a - b);
      const mid = Math.floor(averages.length / 2);
      const median = averages.length % 2 ? averages[mid]! : (averages[mid - 1]! + averages[mid]!) / 2;
      const own = t.values.slice(0, k).reduce((a, b) => (better(b, a) ? b : a));
      if (better(median, own))
        out.push({
          name: t.name,
          reason: `MedianStopping policy at interval ${k}: its best value ${own} is worse than the median ${median} of the other trials' running averages`,
        });
    } else {
      const ranked = [...peers].sort((a, b) => (better(a.values[k - 1]!, b.values[k - 1]!) ? -1 : 1));
      const cut = Math.floor((ranked.length * (policy.truncationPercentage ?? 0)) / 100);
      if (cut > 0 && ranked.slice(ranked.length - cut).includes(t))
        out.push({
          name: t.name,
          reason: `TruncationSelection policy at interval ${k}: ${v} is among the worst ${policy.truncationPercentage}% of ${ranked.length} trials`,
        });
    }
  }
  return out;
}
