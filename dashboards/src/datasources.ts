/**
 * Datasource references of every tapwatch dashboard. The provisioning files in
 * deploy/grafana/provisioning import these UIDs, so a dashboard and the
 * datasource it points at can never drift apart. Grafana resolves a panel's
 * datasource by uid (https://grafana.com/docs/grafana/latest/administration/provisioning/#data-sources).
 */
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** UID of the Prometheus datasource that scrapes the collector's /metrics. */
export const PROMETHEUS_DS_UID = 'tapwatch-prometheus';
/** UID of the PostgreSQL datasource on the collector's database (read-only user recommended). */
export const POSTGRES_DS_UID = 'tapwatch-postgres';

/** Grafana plugin id of Prometheus. */
export const PROMETHEUS_DS_TYPE = 'prometheus';
/**
 * Grafana plugin id of the built-in PostgreSQL datasource since Grafana 10.3
 * (provisioning files may still say `type: postgres`, an alias of it).
 */
export const POSTGRES_DS_TYPE = 'grafana-postgresql-datasource';

export const PROMETHEUS_DS: DataSourceRef = { type: PROMETHEUS_DS_TYPE, uid: PROMETHEUS_DS_UID };
export const POSTGRES_DS: DataSourceRef = { type: POSTGRES_DS_TYPE, uid: POSTGRES_DS_UID };
