// ANSI SGR colour codes (what Ansible prints with ANSIBLE_FORCE_COLOR) to styled spans.
// A line's style state is packed in one small integer so a million lines cost a byte each:
//   bits 0-4 foreground (0 default, 1-8 = SGR 30-37, 9-16 = SGR 90-97), bit 5 bold,
//   bit 6 dim, bit 7 underline.
// Text is only ever set through textContent: a log line can never become markup.

const CSI = /\x1b\[([0-9;?]*)([A-Za-z])/g;
const FG = 0x1f;
const BOLD = 0x20;
const DIM = 0x40;
const UNDERLINE = 0x80;

export function applySgr(state, params) {
  return applyCodes(state, params === "" ? [0] : params.split(";").map((x) => (x === "" ? 0 : Number(x))));
}

function applyCodes(state, codes) {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) state = 0;
    else if (c === 1) state |= BOLD;
    else if (c === 2) state |= DIM;
    else if (c === 22) state &= ~(BOLD | DIM);
    else if (c === 4) state |= UNDERLINE;
    else if (c === 24) state &= ~UNDERLINE;
    else if (c >= 30 && c <= 37) state = (state & ~FG) | (c - 29);
    else if (c >= 90 && c <= 97) state = (state & ~FG) | (c - 81);
    else if (c === 39) state &= ~FG;
    else if (c === 38 || c === 48) {
      // 38;5;n (256 colours: the first 16 map onto ours) or 38;2;r;g;b (ignored)
      if (codes[i + 1] === 5) {
        const n = codes[i + 2];
        if (c === 38 && n >= 0 && n < 16) state = (state & ~FG) | (n + 1);
        i += 2;
      } else if (codes[i + 1] === 2) i += 4;
    }
    // backgrounds and anything else: ignored
  }
  return state;
}

// The style after the escape sequence starting at text[at] (an ESC), given the style before.
// Parses the numbers in place: no allocation for the common SGR sequences.
export function applySgrAt(text, at, state) {
  if (text.charCodeAt(at + 1) !== 91) return state; // not "ESC ["
  let i = at + 2;
  let code = 0;
  let digits = false;
  const codes = [];
  for (;;) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      code = code * 10 + (ch - 48);
      digits = true;
    } else if (ch === 59) {
      codes.push(digits ? code : 0);
      code = 0;
      digits = false;
    } else if (ch === 109) {
      codes.push(digits ? code : 0); // "m": SGR
      break;
    } else if (ch === 63 || ch === 60 || ch === 61 || ch === 62) {
      // private parameters: not SGR, skip
    } else return state; // another CSI command, or the text ended: no style change
    i++;
  }
  return applyCodes(state, codes);
}

// The style state after a line, given the state before it.
export function endState(line, state) {
  CSI.lastIndex = 0;
  let m;
  while ((m = CSI.exec(line)) !== null) {
    if (m[2] === "m") state = applySgr(state, m[1]);
  }
  return state;
}

export function strip(line) {
  return line.indexOf("\x1b") < 0 ? line : line.replace(CSI, "").replace(/\x1b/g, "");
}

export function classFor(state) {
  let cls = "";
  const fg = state & FG;
  if (fg) cls += ` a-f${fg}`;
  if (state & BOLD) cls += " a-b";
  if (state & DIM) cls += " a-d";
  if (state & UNDERLINE) cls += " a-u";
  return cls.trim();
}

// Append the line's text to `el` as spans, starting in `state`.
export function renderInto(el, line, state) {
  if (line.indexOf("\x1b") < 0) {
    if (state === 0) el.append(line);
    else {
      const span = document.createElement("span");
      span.className = classFor(state);
      span.textContent = line;
      el.append(span);
    }
    return;
  }
  let last = 0;
  const push = (text) => {
    if (!text) return;
    text = text.replace(/\x1b/g, "");
    if (state === 0) el.append(text);
    else {
      const span = document.createElement("span");
      span.className = classFor(state);
      span.textContent = text;
      el.append(span);
    }
  };
  CSI.lastIndex = 0;
  let m;
  while ((m = CSI.exec(line)) !== null) {
    push(line.slice(last, m.index));
    if (m[2] === "m") state = applySgr(state, m[1]);
    last = CSI.lastIndex;
  }
  push(line.slice(last));
}
