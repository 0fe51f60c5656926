// Room pickers (select.room-picker): a search by room number and building and unit lists in
// front of the room list, which then shows only that unit's rooms. Without JavaScript the
// one grouped list works. Words come from the select's data- attributes (the catalogs).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const rooms of document.querySelectorAll("select.room-picker")) {
    if (rooms.dataset.enhanced) continue;
    rooms.dataset.enhanced = "1";
    const words = rooms.dataset;
    const groups = Array.from(rooms.querySelectorAll("optgroup"));
    const buildings = [...new Map(groups.map((g) => [g.dataset.building, g.dataset.buildingName]))];
    const search = document.createElement("input");
    search.type = "search";
    search.setAttribute("aria-label", words.searchLabel || "");
    search.placeholder = words.searchPlaceholder || "";
    search.className = "room-search";
    search.autocomplete = "off";  // a room filter, not something to remember
    const said = document.createElement("span");
    said.className = "muted room-search-result";
    said.setAttribute("role", "status");
    const make = (label) => {
      const select = document.createElement("select");
      select.setAttribute("aria-label", label || "");
      rooms.before(select);
      return select;
    };
    rooms.before(search, said);
    const building = make(words.buildingLabel);
    const unit = make(words.unitLabel);
    const fill = (select, values, chosen) => {
      select.replaceChildren(...values.map(([v, text]) => new Option(text, v, false, v === chosen)));
    };
    const current = rooms.selectedOptions[0]?.parentElement;
    const inGroup = current && current.tagName === "OPTGROUP" ? current : null;
    fill(building, buildings, inGroup?.dataset.building);
    const showUnits = (chosenUnit) => {
      const units = groups.filter((g) => g.dataset.building === building.value)
        .map((g) => [g.dataset.unit, g.dataset.unit]);
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
    const norm = (text) => text.replace(/[\s幢栋号楼单元室—–－]+/g, "-").replace(/^-+|-+$/g, "");
    const choose = (option) => {
      const group = option.parentElement;
      building.value = group.dataset.building;
      showUnits(group.dataset.unit);
      rooms.value = option.value;
      rooms.dispatchEvent(new Event("change", { bubbles: true }));
    };
    search.addEventListener("input", () => {
      const query = norm(search.value.trim());
      said.textContent = "";
      if (!query) return;
      const all = groups.flatMap((g) => Array.from(g.querySelectorAll("option")));
      const exact = all.filter((o) => norm(o.dataset.label || "") === query);
      const tail = all.filter((o) => norm(o.dataset.label || "").endsWith("-" + query) ||
                                     norm(o.textContent).endsWith(query));
      const found = exact.length ? exact : tail;
      if (found.length === 0) {
        said.textContent = words.noneFound || "";
      } else if (found.length === 1) {
        choose(found[0]);
      } else {  // "402" in several buildings: one button per room, the first eight
        said.textContent = (words.found || "").replace("{n}", String(found.length));
        for (const option of found.slice(0, 8)) {
          const pick = document.createElement("button");
          pick.type = "button";
          pick.className = "secondary room-search-pick";
          pick.textContent = option.parentElement.dataset.buildingName + option.textContent
            .slice(option.textContent.indexOf(option.parentElement.dataset.unit));
          pick.addEventListener("click", () => { choose(option); said.textContent = ""; });
          said.append(" ", pick);
        }
      }
    });
    building.addEventListener("change", () => showUnits());
    unit.addEventListener("change", showRooms);
    showUnits(inGroup?.dataset.unit);
  }
});
