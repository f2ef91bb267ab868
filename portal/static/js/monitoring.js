// Session monitoring (F3): chart.js line charts of the session's series, refreshed every
// few seconds from the metrics JSON while the session runs; stops once it has ended.
(function () {
  "use strict";
  var box = document.querySelector("section.monitoring[data-url]");
  if (!box || typeof Chart === "undefined") { return; }
  var POLL_MS = 5000;
  var MiB = 1024 * 1024;
  var range = "1h";
  var timer = null;
  var charts = {};
  var status = box.querySelector("[data-testid=monitoring-status]");

  function label(name) { return box.getAttribute("data-label-" + name) || name; }
  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
  }
  function scale(values, divisor) {
    return values.map(function (v) { return v === null ? null : v / divisor; });
  }
  var PALETTE = ["--accent", "--ok", "--danger", "--muted"];

  // name → function(data) giving [{label, data}] datasets
  var SERIES = {
    cpu: function (d) {
      return [{ label: label("cpu"), data: d.cpu },
              { label: label("allocated"), data: d.t.map(function () { return d.cpus; }), dash: true }];
    },
    mem: function (d) {
      return [{ label: label("mem"), data: scale(d.mem, MiB) },
              { label: label("mem-limit"), data: d.t.map(function () { return d.mem_limit / MiB; }), dash: true }];
    },
    disk: function (d) {
      return [{ label: label("ws"), data: scale(d.disk_ws, MiB) },
              { label: label("scratch"), data: scale(d.disk_scratch, MiB) }];
    },
    net: function (d) {
      return [{ label: label("rx"), data: scale(d.net_rx, 1024) },
              { label: label("tx"), data: scale(d.net_tx, 1024) }];
    },
    gpu: function (d) { return [{ label: label("gpu"), data: d.gpu_util }]; },
    gpu_mem: function (d) {
      return [{ label: label("gpu-mem"), data: d.gpu_mem },
              { label: label("mem-limit"), data: d.gpu_mem_total, dash: true }];
    }
  };

  function times(d) {
    return d.t.map(function (t) { return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: range === "1h" ? "2-digit" : undefined }); });
  }

  function draw(canvas, name, d) {
    var text = css("--text"), grid = css("--border");
    var sets = SERIES[name](d).map(function (s, i) {
      var colour = css(PALETTE[i % PALETTE.length]);
      return { label: s.label, data: s.data, borderColor: colour, backgroundColor: colour,
               borderDash: s.dash ? [4, 4] : [], pointRadius: 0, borderWidth: 2, spanGaps: true };
    });
    var chart = charts[name];
    if (chart) {
      chart.data.labels = times(d);
      chart.data.datasets = sets;
      chart.update("none");
      return;
    }
    charts[name] = new Chart(canvas, {
      type: "line",
      data: { labels: times(d), datasets: sets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { color: text, boxWidth: 12 } } },
        scales: {
          x: { ticks: { color: text, maxTicksLimit: 6 }, grid: { color: grid } },
          y: { beginAtZero: true, ticks: { color: text }, grid: { color: grid } }
        }
      }
    });
  }

  function render(d) {
    box.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var name = canvas.getAttribute("data-chart");
      var gpu = name === "gpu" || name === "gpu_mem";
      var holder = canvas.parentNode;
      var note = canvas.closest("figure").querySelector(".gpu-note");
      if (gpu && !d.gpu.available) {
        holder.hidden = true;
        note.hidden = false;
        note.textContent = d.gpu.note;
        return;
      }
      holder.hidden = false;
      if (note) { note.hidden = true; }
      draw(canvas, name, d);
    });
    var words = [];
    if (!d.t.length) { words.push(box.getAttribute("data-empty")); }
    if (!d.live) { words.push(box.getAttribute("data-ended")); }
    status.textContent = words.join(" ");
    box.setAttribute("data-points", String(d.t.length));
  }

  function load() {
    fetch(box.getAttribute("data-url") + "?range=" + range, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (d) {
        render(d);
        clearTimeout(timer);
        if (d.live) { timer = setTimeout(load, POLL_MS); }
      })
      .catch(function () { clearTimeout(timer); timer = setTimeout(load, POLL_MS * 3); });
  }

  box.querySelectorAll("button[data-range]").forEach(function (button) {
    button.addEventListener("click", function () {
      range = button.getAttribute("data-range");
      box.querySelectorAll("button[data-range]").forEach(function (b) {
        b.classList.toggle("current", b === button);
      });
      Object.keys(charts).forEach(function (k) { charts[k].destroy(); delete charts[k]; });
      load();
    });
  });
  load();
})();
