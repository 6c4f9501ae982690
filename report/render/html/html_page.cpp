#include "report/render/html/html_page.h"

namespace oomtrace::report::html {

const char kStyle[] = R"css(
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1240px;padding:0 16px;color:#1d232b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.meta{color:#56606b}.verdict{font-size:17px;font-weight:600;margin:6px 0}.verdict span{background:#fde7e7;color:#9b1c1c;padding:1px 8px;border-radius:4px}
details.failure{border:1px solid #d8dde3;border-radius:6px;margin:10px 0;padding:6px 12px}details.failure>summary{cursor:pointer;font-weight:600}
details.failure.highlight{outline:3px solid #e0a500}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #d8dde3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f7}tr.recommended td{background:#e7f6ea;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
svg{width:100%;height:auto;display:block;margin:4px 0}svg text{font:11px system-ui,sans-serif;fill:#38424d}svg text.small{font-size:10px}
svg .caption{font-weight:600}.grid{stroke:#e3e7eb}.reserved-area{fill:#4a7fd4;opacity:.16}.reserved{fill:none;stroke:#2f63b8;stroke-width:1.6}
.allocated{fill:none;stroke:#1f9d55;stroke-width:1.6}.device-total{stroke:#222;stroke-dasharray:6 4}.device-free{fill:none;stroke:#c77800;stroke-dasharray:3 3}
.free-point{fill:#c77800}.failure-mark line{stroke:#d12f2f;stroke-width:1.5}.failure-mark path{fill:#d12f2f}.failure-mark.recovered line{stroke-dasharray:4 3}
.failure-mark.recovered path{fill:#e58a8a}.failure-mark{cursor:pointer}
.segment{fill:#f2f4f6;stroke:#6b7785;stroke-width:.8}.block.allocated{fill:#4a7fd4}.block.pending{fill:#9b6fd6}.block.free{fill:#8fd19e}
.block.opaque{fill:#a9b4c0}.request-bar{fill:#d12f2f}.largest-free-bar{fill:#2e9e4f}.hist-bar{fill:#8fd19e;stroke:#2e9e4f}.hist-bar.fits{fill:#2e9e4f}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px;border:1px solid #6b7785}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.6fr);gap:18px}ol.suggestions li{margin:4px 0}pre.stack{background:#f6f8fa;padding:8px;overflow-x:auto;margin:4px 0}
#render-summary{display:none}
)css";

const char kScript[] = R"js(
(function () {
  var root = document.documentElement;
  var errors = [];
  window.onerror = function (message, source, line) {
    errors.push(String(message) + ' at ' + line);
    root.setAttribute('data-script-errors', JSON.stringify(errors));
  };
  root.setAttribute('data-script-errors', '[]');
  function openFailure(id) {
    var section = document.getElementById(id);
    if (!section) return;
    section.open = true;
    var highlighted = document.querySelectorAll('details.failure.highlight');
    for (var i = 0; i < highlighted.length; i++) highlighted[i].classList.remove('highlight');
    section.classList.add('highlight');
    section.scrollIntoView();
  }
  function count(selector, scope) { return (scope || document).querySelectorAll(selector).length; }
  function summarize() {
    var maps = [];
    var svgs = document.querySelectorAll('svg.segment-map');
    for (var i = 0; i < svgs.length; i++) {
      maps.push({failure: svgs[i].getAttribute('data-failure'),
                 declared: Number(svgs[i].getAttribute('data-segments')),
                 segments: count('rect.segment', svgs[i]), requests: count('rect.request-bar', svgs[i]),
                 blocks: count('rect.block', svgs[i])});
    }
    var verdicts = [];
    var shown = document.querySelectorAll('.verdict span');
    for (var j = 0; j < shown.length; j++) verdicts.push(shown[j].textContent);
    var summary = {timelines: count('svg.timeline'), failure_marks: count('svg.timeline .failure-mark'),
                   failures: count('details.failure'), segment_maps: maps,
                   histogram_bars: count('svg.histogram rect.hist-bar'), histograms: count('svg.histogram'),
                   whatif_rows: count('table.whatif tbody tr'), verdicts: verdicts, errors: errors};
    var out = document.getElementById('render-summary');
    out.textContent = JSON.stringify(summary);
    root.setAttribute('data-rendered', 'yes');
  }
  document.addEventListener('click', function (event) {
    var mark = event.target.closest ? event.target.closest('.failure-mark') : null;
    if (!mark) return;
    event.preventDefault();
    openFailure('failure-' + mark.getAttribute('data-failure'));
  });
  window.addEventListener('hashchange', function () { openFailure(location.hash.slice(1)); });
  document.addEventListener('DOMContentLoaded', function () {
    if (location.hash) openFailure(location.hash.slice(1));
    summarize();
  });
})();
)js";

}  // namespace oomtrace::report::html
