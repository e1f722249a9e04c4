/**
 * A query of Grafana's PostgreSQL datasource. The foundation SDK 0.0.21 ships
 * no builder for the SQL datasources, so this is one in the shape its README
 * documents for custom query types ("Defining a custom query type"). The
 * fields are those Grafana's SQL query editor saves in code mode
 * (https://grafana.com/docs/grafana/latest/datasources/postgres/query-editor/).
 */
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { POSTGRES_DS } from './datasources.js';

export type SqlFormat = 'table' | 'time_series';

export interface SqlQuery extends Dataquery {
  refId?: string;
  hide?: boolean;
  datasource?: DataSourceRef;
  /** code: the SQL is kept as written (the visual builder would rewrite it). */
  editorMode: 'code';
  format: SqlFormat;
  rawQuery: true;
  rawSql: string;
}

export class SqlQueryBuilder implements Builder<Dataquery> {
  private readonly internal: SqlQuery;

  constructor(rawSql: string) {
    this.internal = {
      datasource: POSTGRES_DS, editorMode: 'code', format: 'table', rawQuery: true, rawSql: tidySql(rawSql),
      _implementsDataqueryVariant() {},
    };
  }

  build(): SqlQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  format(format: SqlFormat): this {
    this.internal.format = format;
    return this;
  }
}

/** Template literals carry the source indentation: strip it so the JSON and the query inspector read cleanly. */
export function tidySql(sql: string): string {
  return sql
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('\n');
}
