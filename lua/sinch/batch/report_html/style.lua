--- sinch.batch.report_html.style: the report page's one stylesheet (inline
-- in its `<style>`): the summary cards, the charts' text and grid, the
-- tables, and the print styles (a campaign per page, every disclosure
-- printed open or not at all).
return [[
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1a1a1a; background: #fff; margin: 0 auto; padding: 1.5em 2em; max-width: 1040px; }
h1 { font-size: 1.5em; margin: 0 0 .2em; }
h2 { font-size: 1.25em; margin: 1.6em 0 .4em; border-bottom: 2px solid #1a1a1a; padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
.meta { color: #4d4d4d; margin: 0 0 1em; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(112px, 1fr));
  gap: .6em; margin: .8em 0; }
.card { border: 1px solid #bbb; border-radius: 6px; padding: .5em .7em; }
.card.wide { grid-column: span 2; }
.card .label { display: block; font-size: .8em; color: #4d4d4d; text-transform: uppercase;
  letter-spacing: .03em; }
.card .value { display: block; font-size: 1.5em; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { display: block; font-size: .85em; color: #4d4d4d; }
.swatch { display: inline-block; width: .8em; height: .8em; border: 1px solid #1a1a1a;
  margin-right: .3em; vertical-align: -.05em; }
figure { margin: .4em 0 1em; }
figcaption { font-size: .9em; color: #333; }
svg { display: block; max-width: 100%; height: auto; font: 12px system-ui, "DejaVu Sans", sans-serif; }
svg text { fill: #1a1a1a; }
svg .grid { stroke: #d9d9d9; stroke-width: 1; }
svg .axis { stroke: #1a1a1a; stroke-width: 1; }
table { border-collapse: collapse; margin: .4em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: right; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
details { margin: .3em 0 1em; }
summary { cursor: pointer; color: #0b4f8a; }
.status-failed, .status-refused, .status-unsent, .status-ambiguous, .status-intent { font-weight: 600; }
.note { color: #4d4d4d; font-size: .9em; }
@media print {
  body { font-size: 10pt; max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section.campaign { break-before: page; }
  section.campaign:first-of-type { break-before: auto; }
  figure, table, .cards { break-inside: avoid; }
  summary { display: none; }
  details:not([open]) { display: none; }
  a { color: inherit; text-decoration: none; }
}
]]
