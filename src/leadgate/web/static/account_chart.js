// The account page's chart: engagement events per week, drawn with Chart.js from
// the numbers in the page's JSON block (#weekly-data); the table below the chart
// holds the same numbers for anyone who does not see it.
"use strict";

(function () {
  function draw() {
    const canvas = document.getElementById("weekly-chart");
    const source = document.getElementById("weekly-data");
    if (!canvas || !source || !window.Chart) return;
    const data = JSON.parse(source.textContent);
    const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#0b5cad";
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: "events", data: data.events, backgroundColor: accent }],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
