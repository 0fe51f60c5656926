// Rooms list: the header checkbox chooses every room on the page (without JavaScript each
// room is chosen on its own; nothing else depends on this file).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("all-rooms");
  if (!all) return;
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll('#rooms input[name="room"]')) {
      box.checked = all.checked;
    }
  });
});
