// Runs scenarios against one target, a few side by side, and normalises their transcripts.
import { mkdirSync } from 'node:fs';
import { runScenario, type Scenario } from './driver.ts';
import { normalise, type Transcript } from './transcript.ts';
import type { Target } from './targets.ts';

/** Runs every scenario against `target` (`concurrency` calls at a time); transcripts in scenario order. */
export async function runAll(target: Target, scenarios: Scenario[], dir: string, concurrency = 3): Promise<Map<string, Transcript>> {
  mkdirSync(dir, { recursive: true });
  const out = new Map<string, Transcript>();
  const queue = [...scenarios];
  const failures: string[] = [];
  // Scenarios whose audio is compared run one at a time: FreeSWITCH reads RTP without a jitter
  // buffer, so a burst from a busy test process would cost it packets.
  let audioTurn: Promise<void> = Promise.resolve();
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const scenario = s;
      const run = () => runScenario(target, scenario, dir);
      try {
        let raw;
        if (scenario.audio) {
          const turn = audioTurn.then(run);
          audioTurn = turn.then(() => undefined, () => undefined);
          raw = await turn;
        } else raw = await run();
        out.set(scenario.name, normalise(raw, scenario));
      } catch (err) {
        failures.push(`${scenario.name} against ${target.kind}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failures.length) throw new Error(`scenarios could not run:\n${failures.join('\n')}`);
  return new Map(scenarios.map((s) => [s.name, out.get(s.name)!]));
}
