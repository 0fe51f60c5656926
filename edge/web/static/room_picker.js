// Room pickers (select.room-picker): building and unit lists in front of the room list,
// which then shows only that unit's rooms. Without JavaScript the one grouped list works.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const rooms of document.querySelectorAll("select.room-picker")) {
    if (rooms.dataset.enhanced) continue;
    rooms.dataset.enhanced = "1";
    const groups = Array.from(rooms.querySelectorAll("optgroup"));
    const buildings = [...new Set(groups.map((g) => g.dataset.building))];
    const make = (label) => {
      const select = document.createElement("select");
      select.setAttribute("aria-label", label);
      rooms.before(select);
      return select;
    };
    const building = make(rooms.form?.dataset.buildingLabel || "楼栋");
    const unit = make(rooms.form?.dataset.unitLabel || "单元");
    const fill = (select, values, chosen) => {
      select.replaceChildren(...values.map((v) => new Option(v, v, false, v === chosen)));
    };
    const current = rooms.selectedOptions[0]?.parentElement;
    const inGroup = current && current.tagName === "OPTGROUP" ? current : null;
    fill(building, buildings, inGroup?.dataset.building);
    const showUnits = (chosenUnit) => {
      const units = groups.filter((g) => g.dataset.building === building.value)
        .map((g) => g.dataset.unit);
      fill(unit, units, chosenUnit);
      showRooms();
    };
    const showRooms = () => {
      for (const g of groups) {
        const shown = g.dataset.building === building.value && g.dataset.unit === unit.value;
        g.hidden = !shown;
        g.disabled = !shown;
      }
      const chosen = rooms.selectedOptions[0];
      if (chosen && chosen.parentElement.tagName === "OPTGROUP" && chosen.parentElement.hidden) {
        rooms.value = "";
      }
    };
    building.addEventListener("change", () => showUnits());
    unit.addEventListener("change", showRooms);
    showUnits(inGroup?.dataset.unit);
  }
});
