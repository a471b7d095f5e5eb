import type { HashFn, ScenarioReport } from '@ch/rulebook';

/** Placeholder until the live runner lands (issue 6): feeds the scenario through the services' API. */
export async function runLiveScenario(_text: string, _hash: HashFn): Promise<ScenarioReport> {
  throw new Error('--live is not available yet: the services do not expose the scenario facility');
}
