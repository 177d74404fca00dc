// A small line chart on a canvas, written for the console rather than
// taken from a library: the page needs lines over time, an axis maximum
// and nothing else. drawChart(canvas, times, series) draws each series
// (arrays of numbers, one per time) with the colours of the page's legend.
"use strict";

function drawChart(canvas, times, series) {
  const css = getComputedStyle(document.documentElement);
  const colours = ["--c0", "--c1", "--c2"].map((v) => css.getPropertyValue(v).trim() || "#2563eb");
  // Draw at the device's pixel density so that lines stay sharp.
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);

  const pad = { l: 48, r: 8, t: 8, b: 18 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  let max = 0;
  for (const s of series) for (const v of s) if (v > max) max = v;
  max = niceMax(max);

  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  ctx.strokeStyle = "#e3e7ee";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 2; i++) {
    const y = pad.t + ph - (ph * i) / 2;
    ctx.beginPath();
    ctx.moveTo(pad.l, Math.round(y) + 0.5);
    ctx.lineTo(pad.l + pw, Math.round(y) + 0.5);
    ctx.stroke();
    ctx.fillText(shortNumber((max * i) / 2), pad.l - 4, y);
  }
  canvas.dataset.max = String(max);
  canvas.dataset.points = String(times.length);
  if (times.length < 2) {
    ctx.textAlign = "center";
    ctx.fillText("collecting…", pad.l + pw / 2, pad.t + ph / 2);
    return;
  }
  const t0 = times[0];
  const span = Math.max(times[times.length - 1] - t0, 1);
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(ago(times[times.length - 1] - t0), pad.l, pad.t + ph + 3);
  ctx.textAlign = "right";
  ctx.fillText("now", pad.l + pw, pad.t + ph + 3);
  ctx.lineWidth = 1.5;
  ctx.lineJoin = "round";
  series.forEach((s, k) => {
    ctx.strokeStyle = colours[k % colours.length];
    ctx.beginPath();
    s.forEach((v, i) => {
      const x = pad.l + ((times[i] - t0) / span) * pw;
      const y = pad.t + ph - (max > 0 ? (v / max) * ph : 0);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten, so that
// the axis reads in round numbers.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function shortNumber(v) {
  const abs = Math.abs(v);
  if (abs >= 1e9) return (v / 1e9).toFixed(abs >= 1e10 ? 0 : 1) + "G";
  if (abs >= 1e6) return (v / 1e6).toFixed(abs >= 1e7 ? 0 : 1) + "M";
  if (abs >= 1e3) return (v / 1e3).toFixed(abs >= 1e4 ? 0 : 1) + "k";
  if (abs >= 10 || v === 0) return String(Math.round(v));
  return v.toFixed(1);
}

function ago(ms) {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `-${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `-${s}s`;
}
