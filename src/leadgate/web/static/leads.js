// The lead search page: select every lead of the page at once, and open the merge
// page for the two selected leads. Without this script the page still works: tick
// boxes one by one, and merge from the "Merge two leads" page.
"use strict";

(function () {
  const boxes = () => [...document.querySelectorAll('input[type="checkbox"][name="lead"][form="bulk"]')];

  function mergeButton() {
    const button = document.querySelector("[data-merge-selected]");
    if (!button) return;
    const update = () => { button.disabled = boxes().filter((box) => box.checked).length !== 2; };
    button.hidden = false;
    update();
    document.addEventListener("change", (event) => {
      if (event.target.matches('input[name="lead"], [data-select-all]')) update();
    });
    button.addEventListener("click", () => {
      const chosen = boxes().filter((box) => box.checked).map((box) => box.value);
      if (chosen.length !== 2) return;
      const query = new URLSearchParams({ a: chosen[0], b: chosen[1] });
      window.location.assign(`/leads/merge?${query}`);
    });
  }

  function selectAll() {
    const all = document.querySelector("[data-select-all]");
    if (!all) return;
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    selectAll();
    mergeButton();
  });
})();
