// Cost analysis (F11): a stacked bar per period (one colour per project/user/model/service)
// and the share of the total. Data comes from the page (<script id="cost-data">).
(function () {
  "use strict";
  var source = document.getElementById("cost-data");
  var bars = document.getElementById("cost-chart");
  var share = document.getElementById("cost-share-chart");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var css = getComputedStyle(document.documentElement);
  var text = css.getPropertyValue("--text").trim() || "#1d2330";
  var grid = css.getPropertyValue("--border").trim() || "#d9dee5";
  var palette = ["#3b82f6", "#10b981", "#a855f7", "#ef4444", "#f59e0b", "#14b8a6", "#6366f1",
                 "#ec4899", "#84cc16", "#64748b"];
  Chart.defaults.color = text;
  if (bars) {
    var chart = new Chart(bars, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (ds, i) {
          return {label: ds.label, data: ds.data, backgroundColor: palette[i % palette.length],
                  stack: "cost"};
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {x: {stacked: true, grid: {color: grid}},
                 y: {stacked: true, beginAtZero: true, grid: {color: grid}}},
        plugins: {legend: {position: "bottom"}}
      }
    });
    bars.dataset.rendered = String(chart.data.datasets.length);
  }
  if (share) {
    var pie = new Chart(share, {
      type: "doughnut",
      data: {labels: data.totals.labels,
             datasets: [{data: data.totals.data,
                         backgroundColor: data.totals.labels.map(function (_, i) {
                           return palette[i % palette.length]; })}]},
      options: {responsive: true, maintainAspectRatio: false, animation: false,
                plugins: {legend: {position: "right"}}}
    });
    share.dataset.rendered = String(pie.data.labels.length);
  }
}());
