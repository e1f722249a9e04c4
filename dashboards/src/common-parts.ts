/**
 * Pieces every tapwatch dashboard shares: the links menu to the other
 * tapwatch dashboards and the base settings of a dashboard.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DASHBOARD_TAG, type DashboardUid } from './uids.js';

/** A dropdown of every dashboard tagged `tapwatch`, keeping the time range and variables. */
export function tapwatchLinks(): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder('tapwatch')
    .type(dashboard.DashboardLinkType.Dashboards)
    .tags([DASHBOARD_TAG])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true)
    .targetBlank(false);
}

export function baseDashboard(uid: DashboardUid, title: string, description: string, from = 'now-6h'): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([DASHBOARD_TAG])
    .editable()
    .timezone('browser')
    .refresh('30s')
    .time({ from, to: 'now' })
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(tapwatchLinks())
    .annotation(builtInAnnotations());
}

/**
 * Grafana's own "Annotations & Alerts" entry, which the UI adds to every
 * dashboard it saves; written out so the list is never empty (Grafana
 * iterates annotations.list when it loads a dashboard).
 */
export function builtInAnnotations(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Annotations & Alerts')
    .datasource({ type: 'grafana', uid: '-- Grafana --' })
    .builtIn(1)
    .enable(true)
    .hide(true)
    .iconColor('rgba(0, 211, 255, 1)')
    .type('dashboard');
}

/**
 * Said wherever an empty findings panel could reassure: a sensor that captures
 * nothing raises no finding either.
 */
export const NO_FINDINGS_TEXT = 'No findings — is every sensor seeing traffic? See "Sensor state"';
