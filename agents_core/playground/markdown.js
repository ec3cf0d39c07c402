// A small Markdown renderer that builds DOM nodes and never parses HTML:
// agent text is only ever set through textContent, so markup in it stays text.
// Covers what agents write: paragraphs, headings, lists, quotes, fenced code,
// inline code, emphasis, strikethrough, links and bare URLs.

const SAFE_LINK = /^(https?:|mailto:)/i;
const INLINE = new RegExp(
  [
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)", // 1-2 code
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*", // 3 strong
    "(?<![A-Za-z0-9])__(?=\\S)([\\s\\S]*?\\S)__(?![A-Za-z0-9])", // 4 strong
    "\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*", // 5 em
    "(?<![A-Za-z0-9])_(?=[^\\s_])([\\s\\S]*?[^\\s_])_(?![A-Za-z0-9])", // 6 em
    "~~(?=\\S)([\\s\\S]*?\\S)~~", // 7 del
    '\\[([^\\]]+)\\]\\(\\s*<?([^)\\s>]+)>?(?:\\s+"[^"]*")?\\s*\\)', // 8-9 link
    "(https?://[^\\s<>()\\[\\]]*[^\\s<>()\\[\\].,;:!?'\"])", // 10 bare URL
  ].join("|"),
  "g",
);

export function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  return a;
}

function inline(text, parent) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1] !== undefined) {
      const code = document.createElement("code");
      code.textContent = m[2].trim() ? m[2].replace(/^ (.*) $/s, "$1") : m[2];
      parent.append(code);
    } else if (m[3] !== undefined || m[4] !== undefined) {
      const strong = document.createElement("strong");
      inline(m[3] ?? m[4], strong);
      parent.append(strong);
    } else if (m[5] !== undefined || m[6] !== undefined) {
      const em = document.createElement("em");
      inline(m[5] ?? m[6], em);
      parent.append(em);
    } else if (m[7] !== undefined) {
      const del = document.createElement("del");
      inline(m[7], del);
      parent.append(del);
    } else if (m[8] !== undefined) {
      if (SAFE_LINK.test(m[9])) {
        const a = link(m[9], "");
        inline(m[8], a);
        parent.append(a);
      } else {
        parent.append(m[0]);
      }
    } else if (m[10] !== undefined) {
      parent.append(link(m[10], m[10]));
    }
  }
  if (last < text.length) parent.append(text.slice(last));
}

function paragraph(lines, parent, tag = "p") {
  const p = document.createElement(tag);
  lines.forEach((line, i) => {
    if (i) p.append(document.createElement("br"));
    inline(line, p);
  });
  parent.append(p);
}

const FENCE = /^\s{0,3}(```+|~~~+)\s*([\w+-]*)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBER = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;

function blocks(lines, parent) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      i += 1;
    } else if ((m = FENCE.exec(line))) {
      const code = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(m[1])) code.push(lines[i++]);
      i += 1;
      const pre = document.createElement("pre");
      const el = document.createElement("code");
      if (m[2]) el.dataset.lang = m[2];
      el.textContent = code.join("\n");
      pre.append(el);
      parent.append(pre);
    } else if ((m = HEADING.exec(line))) {
      const h = document.createElement(`h${Math.min(6, m[1].length + 2)}`);
      inline(m[2], h);
      parent.append(h);
      i += 1;
    } else if (RULE.test(line)) {
      parent.append(document.createElement("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && QUOTE.test(lines[i])) inner.push(lines[i++].replace(QUOTE, ""));
      const quote = document.createElement("blockquote");
      blocks(inner, quote);
      parent.append(quote);
    } else if (BULLET.test(line) || NUMBER.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? NUMBER : BULLET;
      const list = document.createElement(ordered ? "ol" : "ul");
      if (ordered && NUMBER.exec(line)[1] !== "1") list.start = Number(NUMBER.exec(line)[1]);
      while (i < lines.length && (m = pattern.exec(lines[i]))) {
        const item = [ordered ? m[2] : m[1]];
        i += 1;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !pattern.test(lines[i])) {
          item.push(lines[i++].trim());
        }
        paragraph(item, list, "li");
      }
      parent.append(list);
    } else {
      const para = [];
      while (
        i < lines.length &&
        lines[i].trim() &&
        ![FENCE, HEADING, RULE, QUOTE, BULLET, NUMBER].some((re) => re.test(lines[i]))
      ) {
        para.push(lines[i++]);
      }
      paragraph(para, parent);
    }
  }
}

/** Render `text` as Markdown into a fresh DocumentFragment. */
export function render(text) {
  const fragment = document.createDocumentFragment();
  blocks(String(text).replace(/\r\n?/g, "\n").split("\n"), fragment);
  return fragment;
}
