// One evaluation per page (tests/test_pages_browser.py): overflow, and each visible
// control's text against the colour actually behind it (backgrounds composited up the
// ancestors, over white). Returns a list of problems, empty when the page is fine.
() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    const wide = [...document.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                          (e.className ? '.' + String(e.className).replace(/ /g, '.') : ''));
    problems.push(`overflow: ${root.scrollWidth}px > ${window.innerWidth}px (${wide.join(', ')})`);
  }
  const rgba = text => {
    const m = text.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3]));
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let colour = [255, 255, 255];
    for (let i = layers.length - 1; i >= 0; i--) colour = over(layers[i], colour);
    return colour;
  };
  const luminance = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const skip = new Set(['hidden', 'checkbox', 'radio', 'range', 'color', 'image']);
  for (const el of document.querySelectorAll('a, button, input, select, textarea, summary')) {
    if (el.disabled || skip.has(el.type)) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width < 1 || box.height < 1 || style.visibility === 'hidden' || style.opacity === '0') continue;
    const text = (el.innerText || el.value || '').trim();
    if (!text && !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) continue;
    const back = background(el);
    const fore = over(rgba(style.color), back);
    const [a, b] = [luminance(fore), luminance(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) {
      problems.push(`contrast ${ratio.toFixed(2)} < 4.5: <${el.tagName.toLowerCase()}` +
        `${el.id ? ' id=' + el.id : ''}${el.className ? ' class=' + el.className : ''}> ` +
        `"${text.slice(0, 30)}" ${style.color} on rgb(${back.map(Math.round).join(',')})`);
    }
  }
  // Tap targets (WCAG 2.2 AA 2.5.8): every control at least 24 x 24 CSS px, except a link
  // that is part of a line of text (display inline).
  for (const el of document.querySelectorAll('a, button, input, select, textarea, summary')) {
    if (el.type === 'hidden') continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width < 1 || box.height < 1 || style.visibility === 'hidden') continue;
    if (el.tagName === 'A' && style.display === 'inline') continue;
    if (box.width < 23.5 || box.height < 23.5) {
      problems.push(`tap target ${Math.round(box.width)}x${Math.round(box.height)} < 24x24: ` +
        `<${el.tagName.toLowerCase()}${el.id ? ' id=' + el.id : ''}> ` +
        `"${(el.innerText || el.value || '').trim().slice(0, 30)}"`);
    }
  }
  // A field a person types into says whether the browser may remember it: on a shared
  // console PC the form history would offer the last officer's searched ID number or name.
  for (const el of document.querySelectorAll('input, textarea')) {
    if (!['text', 'search', 'tel', 'email', 'textarea'].includes(el.type) || el.readOnly) continue;
    if (!el.getAttribute('autocomplete') && el.form?.getAttribute('autocomplete') !== 'off') {
      problems.push(`autocomplete: <${el.tagName.toLowerCase()} name=${el.name}> says nothing`);
    }
  }
  // A card's cell (table.cards at phone width): its value is one column beside its name,
  // no part of it (a second link, a note after a plate) under the name.
  for (const td of document.querySelectorAll('table.cards td[data-label]')) {
    const before = getComputedStyle(td, '::before').content;
    if (!td.dataset.label || before === 'none' || before === 'normal') continue;
    const range = document.createRange();
    range.selectNodeContents(td);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (rects.length < 2) continue;
    const first = rects[0].left;
    const stray = rects.find(r => r.left < first - 2);
    if (stray) {
      problems.push(`cell: part of "${td.innerText.trim().slice(0, 30)}" (${td.dataset.label}) ` +
                    `sits under its name (${Math.round(stray.left)} < ${Math.round(first)})`);
    }
  }
  // A table column so narrow that Chinese reads one character per line ("查\n看").
  for (const cell of document.querySelectorAll('td, th')) {
    const text = cell.innerText.trim();
    if (!/[\u4e00-\u9fff]{2}/.test(text) || cell.getClientRects().length === 0) continue;
    const style = getComputedStyle(cell);
    const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (inner < 1.9 * parseFloat(style.fontSize)) {
      problems.push(`narrow: "${text.slice(0, 20)}" in a ${Math.round(inner)} px column`);
    }
  }
  return problems;
}
