/** Every tapwatch dashboard, by uid, in the order generate.ts writes them. */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { callDrilldownDashboard } from './call-drilldown.js';
import { findingsDashboard } from './findings.js';
import { overviewDashboard } from './overview.js';
import { sensorHealthDashboard } from './sensor-health.js';

export function allDashboards(): Dashboard[] {
  return [overviewDashboard(), findingsDashboard(), callDrilldownDashboard(), sensorHealthDashboard()];
}

/**
 * The committed form of a dashboard: JSON with two-space indentation and a
 * final newline. The builders add keys in a fixed order, so the same code
 * always gives the same bytes and `git diff` shows only real changes.
 */
export function renderDashboard(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
