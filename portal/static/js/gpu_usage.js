// GPU rental overview (F5): a stacked bar per GPU model and hour, peak hours shaded.
// Data comes from the page (<script type="application/json" id="gpu-usage-data">).
(function () {
  "use strict";
  var canvas = document.getElementById("gpu-usage-chart");
  var source = document.getElementById("gpu-usage-data");
  if (!canvas || !source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var css = getComputedStyle(document.documentElement);
  var text = css.getPropertyValue("--text").trim() || "#1d2330";
  var grid = css.getPropertyValue("--border").trim() || "#d9dee5";
  var palette = ["#3b82f6", "#10b981", "#a855f7", "#ef4444", "#f59e0b", "#14b8a6", "#6366f1"];
  var peakFill = "rgba(230, 160, 40, 0.22)";

  function label(iso) {  // "2026-11-29T09:00:00+08:00" -> "11-29 09:00"
    return iso.slice(5, 10) + " " + iso.slice(11, 16);
  }

  var peakShading = {  // draws the peak hours behind the bars
    id: "peakShading",
    beforeDatasetsDraw: function (chart) {
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      var width = (area.right - area.left) / Math.max(data.hours.length, 1);
      ctx.save();
      ctx.fillStyle = peakFill;
      data.hours.forEach(function (row, i) {
        if (row.peak) {
          ctx.fillRect(x.getPixelForValue(i) - width / 2, area.top, width, area.bottom - area.top);
        }
      });
      ctx.restore();
    }
  };

  var models = data.models.length ? data.models : [];
  var datasets = models.map(function (model, i) {
    return {
      label: model,
      data: data.hours.map(function (row) { return row.gpus[model] || 0; }),
      backgroundColor: palette[i % palette.length],
      borderWidth: 0,
      barPercentage: 1.0,
      categoryPercentage: 1.0,
      stack: "gpus"
    };
  });
  if (!datasets.length) {  // nothing allocated: still draw the axes and the peak hours
    datasets.push({label: canvas.dataset.labelTotal, data: data.hours.map(function () { return 0; }),
                   backgroundColor: palette[0], stack: "gpus"});
  }
  canvas.chart = new Chart(canvas, {
    type: "bar",
    data: {labels: data.hours.map(function (row) { return label(row.start); }), datasets: datasets},
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: {labels: {color: text}},
        tooltip: {callbacks: {afterTitle: function (items) {
          var row = data.hours[items[0].dataIndex];
          return row.peak ? canvas.dataset.labelPeak : "";
        }}}
      },
      scales: {
        x: {stacked: true, ticks: {color: text, maxRotation: 0, autoSkip: true, maxTicksLimit: 14},
            grid: {display: false}},
        y: {stacked: true, beginAtZero: true, suggestedMax: 1,
            title: {display: true, text: canvas.dataset.labelTotal, color: text},
            ticks: {color: text}, grid: {color: grid}}
      }
    },
    plugins: [peakShading]
  });
  canvas.setAttribute("data-rendered", "1");
})();
