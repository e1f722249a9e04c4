/**
 * Small constructors over the foundation SDK panel builders, so that every
 * tapwatch panel gets the same defaults (datasource, legend, thresholds) and an
 * explicit id: panel ids appear in share links (?viewPanel=<id>), so they are
 * numbered by the dashboard, in order, and stay stable across regenerations.
 */
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TextBuilder, TextMode } from '@grafana/grafana-foundation-sdk/text';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export interface PanelSize {
  /** Width in grid columns (24 is the full width). */
  w: number;
  /** Height in grid rows (30 px each). */
  h: number;
}

/** Threshold steps: the first applies from -infinity (value null). */
export function thresholds(steps: Array<[number | null, string]>): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

/** Numbers panel ids 1, 2, 3... in the order the panels are added. */
export class PanelIds {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

export interface TimeseriesOptions extends PanelSize {
  unit?: string;
  stack?: boolean;
  min?: number;
  noValue?: string;
  steps?: Array<[number | null, string]>;
}

export function timeseries(ids: PanelIds, ds: DataSourceRef, title: string, description: string, targets: Builder<Dataquery>[], o: TimeseriesOptions): TimeseriesBuilder {
  const p = new TimeseriesBuilder()
    .id(ids.take()).title(title).description(description).datasource(ds).targets(targets)
    .height(o.h).span(o.w)
    .lineWidth(1).fillOpacity(10).showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).calcs(['lastNotNull', 'max']))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (o.unit) p.unit(o.unit);
  if (o.min !== undefined) p.min(o.min);
  if (o.noValue) p.noValue(o.noValue);
  if (o.steps) p.thresholds(thresholds(o.steps));
  if (o.stack) p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return p;
}

export interface StatOptions extends PanelSize {
  unit?: string;
  noValue?: string;
  steps?: Array<[number | null, string]>;
  mappings?: dashboard.ValueMapping[];
  /** Show each series' name under its value (one tile per sensor). */
  showNames?: boolean;
  colorBackground?: boolean;
}

export function stat(ids: PanelIds, ds: DataSourceRef, title: string, description: string, targets: Builder<Dataquery>[], o: StatOptions): StatBuilder {
  const p = new StatBuilder()
    .id(ids.take()).title(title).description(description).datasource(ds).targets(targets)
    .height(o.h).span(o.w)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(o.colorBackground ? common.BigValueColorMode.Background : common.BigValueColorMode.Value)
    .textMode(o.showNames ? common.BigValueTextMode.ValueAndName : common.BigValueTextMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
  if (o.unit) p.unit(o.unit);
  if (o.noValue) p.noValue(o.noValue);
  if (o.steps) p.thresholds(thresholds(o.steps));
  if (o.mappings) p.mappings(o.mappings);
  return p;
}

export function table(ids: PanelIds, ds: DataSourceRef, title: string, description: string, targets: Builder<Dataquery>[], o: PanelSize & { noValue?: string }): TableBuilder {
  const p = new TableBuilder()
    .id(ids.take()).title(title).description(description).datasource(ds).targets(targets)
    .height(o.h).span(o.w)
    .showHeader(true).filterable(true).cellHeight(common.TableCellHeight.Sm);
  if (o.noValue) p.noValue(o.noValue);
  return p;
}

export function text(ids: PanelIds, title: string, markdown: string, o: PanelSize): TextBuilder {
  return new TextBuilder().id(ids.take()).title(title).mode(TextMode.Markdown).content(markdown.trim()).height(o.h).span(o.w);
}

/** A full-width row header (panels follow it at the top level, so the row is expanded in Grafana). */
export function row(ids: PanelIds, title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).id(ids.take()).collapsed(false);
}

/** A data link: `url` may use Grafana's data link variables, e.g. ${__value.raw} or ${__data.fields.id}. */
export function dataLink(title: string, url: string, targetBlank = false): { title: string; url: string; targetBlank: boolean } {
  return { title, url, targetBlank };
}
