/** Dashboard UIDs: stable, so links between dashboards and bookmarks survive a regeneration. */
export const DASHBOARD_UIDS = {
  overview: 'tapwatch-overview',
  findings: 'tapwatch-findings',
  callDrilldown: 'tapwatch-call',
  sensorHealth: 'tapwatch-sensor-health',
} as const;

export type DashboardUid = (typeof DASHBOARD_UIDS)[keyof typeof DASHBOARD_UIDS];

/** Tag shared by every tapwatch dashboard (the dashboard links menu lists them by it). */
export const DASHBOARD_TAG = 'tapwatch';

/** Relative URL of a dashboard (Grafana accepts any slug after the uid). */
export const dashboardPath = (uid: DashboardUid): string => `/d/${uid}/${uid}`;
