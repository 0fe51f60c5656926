// Tenant form helper (the server decides; without this script every field is shown and
// the server still takes sex and birth date from an 18-digit number).
// - Nationality only for a passport or a foreign permanent-residence card; ethnicity only
//   for Chinese citizens' documents (and a Chinese passport).
// - A valid 18-digit number fills sex and birth date and locks them.
(function () {
  "use strict";
  var form = document.getElementById("tenant-form");
  if (!form) { return; }
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECKS = "10X98765432";
  var docType = form.querySelector("#doc_type");
  var docNumber = form.querySelector("#doc_number");
  var nationality = form.querySelector("#nationality");
  var sex = form.querySelector("#sex");
  var birth = form.querySelector("#birth_date");
  var foreign = form.querySelector("[data-when=foreign]");
  var citizen = form.querySelector("[data-when=citizen]");

  function fold(text) {
    // full-width digits and letters as ASCII, like the server's NFKC
    return text.replace(/[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xfee0);
    }).replace(/\s+/g, "").toUpperCase();
  }

  function fromNumber(number) {
    if (!/^[0-9]{17}[0-9X]$/.test(number)) { return null; }
    var total = 0;
    for (var i = 0; i < 17; i++) { total += Number(number[i]) * WEIGHTS[i]; }
    if (CHECKS[total % 11] !== number[17]) { return null; }
    var y = number.substr(6, 4), m = number.substr(10, 2), d = number.substr(12, 2);
    var day = new Date(Number(y), Number(m) - 1, Number(d));
    if (day.getMonth() !== Number(m) - 1 || day.getDate() !== Number(d)) { return null; }
    return { birth: y + "-" + m + "-" + d, sex: Number(number[16]) % 2 ? "M" : "F" };
  }

  function lock(field, value) {
    if (value === null) {
      field.removeAttribute("readonly");
      field.removeAttribute("aria-readonly");
      if (field.tagName === "SELECT") { field.classList.remove("locked"); }
      return;
    }
    field.value = value;
    field.setAttribute("readonly", "readonly");
    field.setAttribute("aria-readonly", "true");
  }

  function update() {
    var kind = docType.value;
    var foreignDoc = kind === "passport" || kind === "foreigner_pr";
    var chinesePassport = kind === "passport" && /\(CHN\)\s*$/.test(nationality.value);
    foreign.hidden = !foreignDoc;
    citizen.hidden = !(kind === "resident_id" || kind === "hmt_permit" || chinesePassport);
    var facts = kind && kind !== "passport" ? fromNumber(fold(docNumber.value)) : null;
    lock(sex, facts ? facts.sex : null);
    lock(birth, facts ? facts.birth : null);
  }

  // a locked select still opens on phones: put the value back if it is changed
  sex.addEventListener("change", function () { if (sex.hasAttribute("readonly")) { update(); } });
  docType.addEventListener("change", update);
  docNumber.addEventListener("input", update);
  nationality.addEventListener("change", update);
  update();
})();
