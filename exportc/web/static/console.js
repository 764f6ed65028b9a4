// exportc console: live progress of a run, list inputs, confirmations. Ours; no libraries.
"use strict";

function followProgress(box) {
  const url = box.dataset.url;
  const phases = ["starting", "reading", "writing", "validating", "recording"];
  async function tick() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      data = await response.json();
    } catch (e) {
      setTimeout(tick, 2000);
      return;
    }
    if (data.finished) {
      location.reload();
      return;
    }
    const phase = data.phase || (data.status === "scheduled" ? null : "starting");
    const at = phases.indexOf(phase);
    box.querySelectorAll("[data-phase]").forEach((li, i) => {
      li.classList.toggle("done", at >= 0 && i < at);
      li.classList.toggle("now", i === at);
    });
    const text = box.querySelector("#phase-text");
    const now = phase && box.querySelector(`[data-phase="${phase}"]`);
    if (text && now) text.textContent = now.textContent;
    const records = box.querySelector("#records");
    if (records && data.records) {
      records.textContent = Object.entries(data.records).map(([s, n]) => `${s}: ${n.toLocaleString()}`).join(" · ");
    }
    const written = box.querySelector("#written");
    if (written && data.written && Object.keys(data.written).length) {
      written.textContent = `${written.dataset.label}: ` + Object.entries(data.written)
        .map(([block, n]) => `${block} ${n.toLocaleString()}`).join(" · ");
    }
    setTimeout(tick, data.status === "scheduled" ? 1000 : 500);
  }
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("progress");
  if (box) followProgress(box);

  document.querySelectorAll("[data-add]").forEach((button) => {
    button.addEventListener("click", () => {
      const input = document.createElement("input");
      input.name = button.dataset.add + "[]";
      input.inputMode = "numeric";
      button.before(input);
      input.focus();
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
