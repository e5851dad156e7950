// The TextMate grammar (syntaxes/journey.tmLanguage.json), tokenised the way VS Code
// does it: vscode-textmate over the Oniguruma regex engine compiled to WebAssembly.
//
// Concrete tokens of concrete files get the scopes a theme needs (keywords, strings,
// interpolations, comments, durations, ...), and every line of every `.journey` file in
// examples/, std/ and tests/ui/ ends with the scope stack back at `source.journey`, so a
// string or an interpolation never leaks into the next line.
//
// Run with `node --test editors/vscode/test/` (tests/editor_grammar.rs does, from
// `cargo test`); needs `npm ci` in editors/vscode first.

'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const EXT = path.join(__dirname, '..');
const REPO = path.join(EXT, '..', '..');
const GRAMMAR = path.join(EXT, 'syntaxes', 'journey.tmLanguage.json');
const ROOT = 'source.journey';

let grammarPromise = null;

/** The grammar, loaded once. */
function grammar() {
  if (!grammarPromise) {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    const onigLib = oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength)).then(() => ({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }));
    const registry = new vsctm.Registry({
      onigLib,
      loadGrammar: async (scopeName) =>
        scopeName === ROOT ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null,
    });
    grammarPromise = registry.loadGrammar(ROOT);
  }
  return grammarPromise;
}

/**
 * Tokenises `source` line by line. Returns one entry a line:
 * `{ line, number, tokens: [{ text, scopes }], open }`, where `open` lists the scopes
 * still open at the end of the line (empty when the stack is back at `source.journey`).
 */
async function tokenize(source) {
  const g = await grammar();
  let stack = vsctm.INITIAL;
  return source.split(/\r?\n/).map((line, i) => {
    const r = g.tokenizeLine(line, stack);
    assert.ok(!r.stoppedEarly, `line ${i + 1} took too long to tokenise: ${line}`);
    stack = r.ruleStack;
    const tokens = r.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
    const open = stack.depth === 1 ? [] : openScopes(stack);
    return { line, number: i + 1, tokens, open };
  });
}

/** The scopes a rule stack holds beyond the root, for messages. */
function openScopes(stack) {
  const names = stack.contentNameScopesList?.getScopeNames?.() ?? [`depth ${stack.depth}`];
  return names.filter((n) => n !== ROOT);
}

function read(rel) {
  return fs.readFileSync(path.join(REPO, rel), 'utf8');
}

/** The `.journey` files of examples/, std/ and tests/ui/ that are valid UTF-8. */
function journeyFiles() {
  const files = [];
  for (const dir of ['examples', 'std', path.join('tests', 'ui')]) {
    for (const name of fs.readdirSync(path.join(REPO, dir)).sort()) {
      if (!name.endsWith('.journey')) continue;
      const bytes = fs.readFileSync(path.join(REPO, dir, name));
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        continue; // tests/ui/not_utf8.journey: the checker's case, not an editor's
      }
      files.push({ rel: path.join(dir, name), text });
    }
  }
  return files;
}

/** The complete journeys the docs show in ```journey fences (fragments are ```journey-fragment). */
function docBlocks() {
  const blocks = [];
  for (const rel of ['README.md', path.join('docs', 'language.md'), path.join('docs', 'testing.md')]) {
    // As tests/docs.rs reads them: a fence may be indented (inside a list item).
    const re = /^[ \t]*```journey\n([\s\S]*?)^[ \t]*```$/gm;
    let m;
    let n = 0;
    while ((m = re.exec(read(rel))) !== null) blocks.push({ rel: `${rel} block ${++n}`, text: m[1] });
  }
  return blocks;
}

/**
 * The token `text` on the first line containing `lineText` (the `nth` such token on that
 * line, counting from 1), with its scopes.
 */
function tokenOn(lines, lineText, text, nth = 1) {
  const line = lines.find((l) => l.line.includes(lineText));
  assert.ok(line, `no line contains ${JSON.stringify(lineText)}`);
  const found = line.tokens.filter((t) => t.text === text);
  assert.ok(
    found.length >= nth,
    `line ${line.number} ${JSON.stringify(line.line)} has no token ${JSON.stringify(text)}; tokens: ${JSON.stringify(line.tokens.map((t) => t.text))}`,
  );
  return found[nth - 1];
}

/** Asserts that the token has every scope in `scopes`. */
function assertScopes(lines, lineText, text, scopes, nth = 1) {
  const token = tokenOn(lines, lineText, text, nth);
  for (const scope of scopes) {
    assert.ok(
      token.scopes.includes(scope),
      `${JSON.stringify(text)} on ${JSON.stringify(lineText)}: expected ${scope}, got ${token.scopes.join(' ')}`,
    );
  }
  return token;
}

/** Asserts that the token has none of the scopes starting with any of `prefixes`. */
function assertNoScope(lines, lineText, text, prefixes, nth = 1) {
  const token = tokenOn(lines, lineText, text, nth);
  for (const p of prefixes) {
    const bad = token.scopes.find((s) => s.startsWith(p));
    assert.ok(!bad, `${JSON.stringify(text)} on ${JSON.stringify(lineText)}: unexpected ${bad}`);
  }
}

const STRING = 'string.quoted.double.journey';
const INTERP = 'meta.interpolation.journey';
const EMBEDDED = 'meta.embedded.line.journey';
const INTERP_BEGIN = 'punctuation.section.interpolation.begin.journey';
const INTERP_END = 'punctuation.section.interpolation.end.journey';
const COMMENT = 'comment.line.double-slash.journey';
const DURATION = 'constant.numeric.duration.journey';
const CONTROL = 'keyword.control.journey';
const OTHER = 'keyword.other.journey';
const STORAGE = 'storage.type.journey';
const OPERATOR = 'keyword.operator.journey';

test('the seed example: keywords, strings, interpolations, comments, durations', async () => {
  const lines = await tokenize(read('examples/texting_journey_links.journey'));

  assertScopes(lines, "// The seed's scenario", " The seed's scenario: a person opens a starting link, types their mobile number,", [COMMENT]);
  assertScopes(lines, "// The seed's scenario", '//', [COMMENT, 'punctuation.definition.comment.journey']);

  assertScopes(lines, 'import std.calendars', 'import', ['keyword.control.import.journey']);
  assertScopes(lines, 'journey TextingJourneyLinks {', 'journey', [STORAGE]);
  assertScopes(lines, 'journey TextingJourneyLinks {', 'TextingJourneyLinks', ['entity.name.namespace.journey']);
  assertScopes(lines, 'journey TextingJourneyLinks {', '{', ['punctuation.section.block.begin.journey']);

  assertScopes(lines, 'sms from "+15005550006"', 'sms', [OTHER]);
  assertScopes(lines, 'sms from "+15005550006"', 'from', [OTHER]);
  assertScopes(lines, 'trigger link "start"', 'trigger', [OTHER]);
  assertScopes(lines, 'trigger link "start"', 'link', [OTHER]);
  assertScopes(lines, 'trigger link "start"', '"', [STRING, 'punctuation.definition.string.begin.journey'], 1);
  assertScopes(lines, 'trigger link "start"', 'start', [STRING]);
  assertScopes(lines, 'trigger link "start"', '"', [STRING, 'punctuation.definition.string.end.journey'], 2);
  for (const w of ['journey', 'link', 'opens', 'last', 'page']) {
    assertScopes(lines, 'journey link opens last page', w, [OTHER]);
  }
  assertScopes(lines, 'help "Texts from Acme', 'help', [OTHER]);

  assertScopes(lines, 'var phone_input: Phone', 'var', [STORAGE]);
  assertScopes(lines, 'var phone_input: Phone', 'phone_input', ['variable.other.declaration.journey']);
  assertScopes(lines, 'var phone_input: Phone', 'Phone', ['entity.name.type.journey']);
  assertScopes(lines, 'var full_name: Text', 'Text', ['entity.name.type.journey']);

  assertScopes(lines, 'step Collect {', 'step', [STORAGE]);
  assertScopes(lines, 'step Collect {', 'Collect', ['entity.name.function.step.journey']);
  assertScopes(lines, 'page AskPhone {', 'page', [STORAGE]);
  assertScopes(lines, 'page AskPhone {', 'AskPhone', ['entity.name.function.page.journey']);
  assertScopes(lines, 'heading "Where can we text you?"', 'heading', [OTHER]);
  // `text` inside quotes is text, not a keyword.
  assertNoScope(lines, 'heading "Where can we text you?"', 'Where can we text you?', ['keyword']);

  assertScopes(lines, 'input phone_input: phone', 'input', [OTHER]);
  assertScopes(lines, 'input phone_input: phone', 'phone', ['entity.name.type.journey']);
  assertScopes(lines, 'input phone_input: phone', 'required', [OTHER]);
  assertScopes(lines, 'required placeholder "Jane Doe"', 'placeholder', [OTHER]);
  assertScopes(lines, 'button "Text me a link" {', 'button', [OTHER]);

  assertScopes(lines, 'set actor.phone = phone_input', 'set', [OTHER]);
  assertScopes(lines, 'set actor.phone = phone_input', 'actor', ['variable.language.journey']);
  assertScopes(lines, 'set actor.phone = phone_input', 'phone', ['variable.other.property.journey']);
  assertScopes(lines, 'set actor.phone = phone_input', '=', [OPERATOR]);
  assertScopes(lines, 'initialize actor', 'initialize', [OTHER]);
  assertScopes(lines, 'initialize actor', 'actor', [OTHER]);
  assertScopes(lines, 'send sms LinkToJourney', 'send', [OTHER]);
  assertScopes(lines, 'send sms LinkToJourney', 'LinkToJourney', ['entity.name.function.notification.journey']);

  const timer = 'start timer "nudge" after 1d on std.calendars.BusinessHoursNY if unavailable next {';
  assertScopes(lines, timer, 'start', [OTHER]);
  assertScopes(lines, timer, 'timer', [OTHER]);
  assertScopes(lines, timer, 'nudge', [STRING]);
  assertScopes(lines, timer, 'after', [CONTROL]);
  assertScopes(lines, timer, '1d', [DURATION]);
  assertScopes(lines, timer, 'on', [CONTROL]);
  assertScopes(lines, timer, 'if', [CONTROL]);
  assertScopes(lines, timer, 'unavailable', [OTHER]);
  assertScopes(lines, timer, 'next', [OTHER]);

  assertScopes(lines, 'go to page AskName', 'go', [CONTROL]);
  assertScopes(lines, 'go to page AskName', 'to', [CONTROL]);
  assertScopes(lines, 'go to page AskName', 'AskName', ['entity.name.function.page.journey']);
  assertScopes(lines, 'go to step Done', 'Done', ['entity.name.function.step.journey']);
  assertScopes(lines, 'stop timer "nudge"', 'stop', [OTHER]);

  const heading = 'heading "Thanks, {{ full_name }}!"';
  assertScopes(lines, heading, 'Thanks, ', [STRING]);
  assertScopes(lines, heading, '{{', [STRING, INTERP, INTERP_BEGIN]);
  assertScopes(lines, heading, 'full_name', [STRING, INTERP, EMBEDDED, 'variable.other.journey']);
  assertScopes(lines, heading, '}}', [STRING, INTERP, INTERP_END]);
  assertNoScope(lines, heading, '!', [INTERP]);
  assertScopes(lines, heading, '!', [STRING]);

  const link = 'text "Thanks! Continue any time here: {{ journey_link }}"';
  assertScopes(lines, link, 'text', [OTHER]);
  assertScopes(lines, link, '{{', [INTERP, INTERP_BEGIN]);
  assertScopes(lines, link, 'journey_link', [INTERP, EMBEDDED, 'variable.language.journey']);
  assertNoScope(lines, link, 'journey_link', ['keyword', 'storage']);
  assertScopes(lines, link, '}}', [INTERP, INTERP_END]);

  assertScopes(lines, 'notification LinkToJourney sms {', 'notification', [STORAGE]);
  assertScopes(lines, 'notification LinkToJourney sms {', 'LinkToJourney', ['entity.name.function.notification.journey']);
  assertScopes(lines, 'notification LinkToJourney sms {', 'sms', [OTHER]);

  assertScopes(lines, 'trigger sms to "+15005550006"', 'to', [CONTROL]);
  for (const w of ['on', 'session', 'started']) assertScopes(lines, 'on session started {', w, [w === 'on' ? CONTROL : OTHER]);
  assertScopes(lines, 'send sms std.notifications.ContinueWhereYouLeftOff', 'std.notifications.ContinueWhereYouLeftOff', [
    'entity.name.function.notification.journey',
  ]);
});

test('the seed example\'s tests: the test language', async () => {
  const lines = await tokenize(read('examples/texting_journey_links.test.journey'));
  assertScopes(lines, 'import "texting_journey_links.journey"', 'texting_journey_links.journey', [STRING]);
  assertScopes(lines, 'test "a person leaves', 'test', [STORAGE]);
  assertScopes(lines, 'clock "2026-12-04 16:00" in', 'clock', [OTHER]);
  assertScopes(lines, 'clock "2026-12-04 16:00" in', 'in', [OTHER]);
  assertScopes(lines, 'open link "start"', 'open', [OTHER]);
  assertScopes(lines, 'expect page AskPhone', 'expect', [OTHER]);
  assertScopes(lines, 'expect page AskPhone', 'AskPhone', ['entity.name.function.page.journey']);
  assertScopes(lines, 'fill phone_input = "(415) 555-0100"', 'fill', [OTHER]);
  assertScopes(lines, 'press "Text me a link"', 'press', [OTHER]);
  assertScopes(lines, 'expect sms LinkToJourney to', 'LinkToJourney', ['entity.name.function.notification.journey']);
  assertScopes(lines, 'expect sms LinkToJourney to', 'with', [OTHER]);
  assertScopes(lines, 'expect no sms', 'no', [OTHER]);
  assertScopes(lines, '// A day later is Saturday', ' A day later is Saturday: the reminder waits for business hours.', [COMMENT]);
  assertScopes(lines, 'wait 1d', 'wait', [CONTROL]);
  assertScopes(lines, 'wait 1d', '1d', [DURATION]);
  assertScopes(lines, 'wait until "2026-12-07 09:00"', 'until', [CONTROL]);
  assertScopes(lines, 'expect sms Reminder containing', 'containing', [OTHER]);
  assertScopes(lines, 'expect 1 sms', '1', ['constant.numeric.journey']);
  assertScopes(lines, 'expect error phone_input', 'error', [OTHER]);
  assertScopes(lines, 'expect full_name = "Jane Doe"', '=', [OPERATOR]);
});

test('std.calendars: time zones, days and hours', async () => {
  const lines = await tokenize(read('std/calendars.journey'));
  assertScopes(lines, 'calendar BusinessHoursNY {', 'calendar', [STORAGE]);
  assertScopes(lines, 'calendar BusinessHoursNY {', 'BusinessHoursNY', ['entity.name.type.calendar.journey']);
  assertScopes(lines, 'time zone "America/New_York"', 'time', [OTHER]);
  assertScopes(lines, 'time zone "America/New_York"', 'zone', [OTHER]);
  assertScopes(lines, 'open mon-fri 09:00-17:00', 'open', [OTHER]);
  assertScopes(lines, 'open mon-fri 09:00-17:00', 'mon', ['constant.other.weekday.journey']);
  assertScopes(lines, 'open mon-fri 09:00-17:00', 'fri', ['constant.other.weekday.journey']);
  assertScopes(lines, 'open mon-fri 09:00-17:00', '09:00', ['constant.numeric.time.journey']);
  assertScopes(lines, 'open mon-fri 09:00-17:00', '17:00', ['constant.numeric.time.journey']);
  assertScopes(lines, 'open mon-fri 09:00-17:00', '-', ['punctuation.separator.range.journey'], 2);
  // Words in a comment stay comment, even `open` and `calendars`.
  assertNoScope(lines, 'Use one on a timer', ' Use one on a timer: `start timer "nudge" after 1d on std.calendars.BusinessHoursNY { ... }`.', [
    'keyword',
    STRING,
  ]);
});

test('function calls, operators, literals, escapes and nested quotes', async () => {
  const source = [
    'calendar Desk {',
    '  open Mon, wed-FRIDAY 08:00-12:00, 13:00-18:00',
    '  open cron "0 18 * * THU" for 3h',
    '  closed 2026-12-24..2026-12-26 "Holidays"',
    '}',
    'journey J {',
    '  expires after 60d',
    '  on existing session keep',
    '  var visits: Number = 0',
    '  step S {',
    '    on enter {',
    '      if visits >= 2 AND not ISEMPTY(actor.phone) or Done = false {',
    '        set visits = visits + 1',
    '      } else if session.from != null {',
    '        extend session by 2w',
    '      } else {',
    '        end session',
    '      }',
    '    }',
    '    page P {',
    '      text "Your visit: {{ FORMAT_DATETIME(at, "%A at %H:%M", "Europe/London") }} ok"',
    '      text "Tab\\there, a \\"quote\\", \\{\\{ not interpolated \\}\\} and \\q"',
    '      text "A lone {{ is text"',
    '      input size: choice "Size" options ["S", "M"] validate size != "S" else "No"',
    '      button "Go" { go to step S }',
    '    }',
    '  }',
    '}',
  ].join('\n');
  const lines = await tokenize(source);

  assertScopes(lines, 'open Mon, wed-FRIDAY', 'Mon', ['constant.other.weekday.journey']);
  assertScopes(lines, 'open Mon, wed-FRIDAY', 'FRIDAY', ['constant.other.weekday.journey']);
  assertScopes(lines, 'open Mon, wed-FRIDAY', '13:00', ['constant.numeric.time.journey']);
  assertScopes(lines, 'open cron', 'cron', [OTHER]);
  assertScopes(lines, 'open cron', 'for', [CONTROL]);
  assertScopes(lines, 'open cron', '3h', [DURATION]);
  assertScopes(lines, 'closed 2026-12-24', 'closed', [OTHER]);
  assertScopes(lines, 'closed 2026-12-24', '2026-12-24', ['constant.numeric.date.journey']);
  assertScopes(lines, 'closed 2026-12-24', '..', ['punctuation.separator.range.journey']);
  assertScopes(lines, 'closed 2026-12-24', '2026-12-26', ['constant.numeric.date.journey']);
  assertScopes(lines, 'expires after 60d', 'expires', [OTHER]);
  assertScopes(lines, 'expires after 60d', 'after', [CONTROL]);
  assertScopes(lines, 'expires after 60d', '60d', [DURATION]);
  assertScopes(lines, 'on existing session keep', 'keep', [OTHER]);
  assertScopes(lines, 'var visits: Number = 0', 'Number', ['entity.name.type.journey']);
  assertScopes(lines, 'var visits: Number = 0', '0', ['constant.numeric.journey']);
  assertScopes(lines, 'on enter {', 'enter', [OTHER]);

  const cond = 'if visits >= 2 AND not ISEMPTY';
  assertScopes(lines, cond, '>=', [OPERATOR]);
  assertScopes(lines, cond, 'AND', [OPERATOR]);
  assertScopes(lines, cond, 'not', [OPERATOR]);
  assertScopes(lines, cond, 'or', [OPERATOR]);
  assertScopes(lines, cond, 'ISEMPTY', ['support.function.journey']);
  assertScopes(lines, cond, 'false', ['constant.language.journey']);
  assertScopes(lines, cond, '2', ['constant.numeric.journey']);
  assertScopes(lines, 'set visits = visits + 1', '+', [OPERATOR]);
  assertScopes(lines, '} else if session.from != null {', 'else', [CONTROL]);
  assertScopes(lines, '} else if session.from != null {', 'session', ['variable.language.journey']);
  assertScopes(lines, '} else if session.from != null {', 'null', ['constant.language.journey']);
  assertScopes(lines, '} else if session.from != null {', '!=', [OPERATOR]);
  assertScopes(lines, 'extend session by 2w', 'by', [OTHER]);
  assertScopes(lines, 'extend session by 2w', '2w', [DURATION]);
  assertScopes(lines, '        end session', 'end', [CONTROL]);

  const visit = 'text "Your visit:';
  assertScopes(lines, visit, 'FORMAT_DATETIME', [INTERP, EMBEDDED, 'support.function.journey']);
  assertScopes(lines, visit, 'at', [INTERP, 'variable.other.journey']);
  assertNoScope(lines, visit, 'at', ['keyword']);
  // A quoted text inside `{{ }}` is a string of its own, and the interpolation goes on after it.
  assertScopes(lines, visit, '%A at %H:%M', [INTERP, STRING]);
  assertScopes(lines, visit, ',', [INTERP, 'punctuation.separator.comma.journey'], 2);
  assertScopes(lines, visit, '}}', [INTERP_END]);
  assertScopes(lines, visit, ' ok', [STRING]);
  assertNoScope(lines, visit, ' ok', [INTERP]);

  const esc = 'text "Tab';
  for (const e of ['\\t', '\\"', '\\{', '\\}']) assertScopes(lines, esc, e, [STRING, 'constant.character.escape.journey']);
  assertScopes(lines, esc, '\\q', ['invalid.illegal.unknown-escape.journey']);
  assert.ok(!lines.find((l) => l.line.includes(esc)).tokens.some((t) => t.scopes.includes(INTERP)), 'escaped braces are no interpolation');
  assert.ok(!lines.find((l) => l.line.includes('A lone')).tokens.some((t) => t.scopes.includes(INTERP)), 'a lone {{ is no interpolation');

  const input = 'input size: choice';
  assertScopes(lines, input, 'choice', ['entity.name.type.journey']);
  assertScopes(lines, input, 'options', [OTHER]);
  assertScopes(lines, input, '[', ['punctuation.section.brackets.begin.journey']);
  assertScopes(lines, input, 'validate', [OTHER]);
  assertScopes(lines, input, 'else', [CONTROL]);
  assertScopes(lines, 'button "Go" { go to step S }', 'S', ['entity.name.function.step.journey']);
  for (const l of lines) assert.deepStrictEqual(l.open, [], `line ${l.number} leaves ${l.open} open`);
});

test('an unclosed string ends with its line', async () => {
  const lines = await tokenize('  heading "never closed {{ name }}\n  text "next"');
  assert.deepStrictEqual(lines[0].open, []);
  assertScopes(lines, 'text "next"', 'text', [OTHER]);
  assertScopes(lines, 'text "next"', 'next', [STRING]);
});

test('every line of every example, std and UI file ends with no scope open', async () => {
  const files = journeyFiles();
  assert.ok(files.some((f) => f.rel.startsWith('examples')), 'examples/ was found');
  assert.ok(files.some((f) => f.rel.startsWith('std')), 'std/ was found');
  assert.ok(files.filter((f) => f.rel.startsWith(path.join('tests', 'ui'))).length > 50, 'tests/ui/ was found');
  const problems = [];
  for (const { rel, text } of files) {
    for (const l of await tokenize(text)) {
      if (l.open.length) problems.push(`${rel}:${l.number}: ${l.open.join(' ')} left open by ${JSON.stringify(l.line)}`);
    }
  }
  assert.deepStrictEqual(problems, []);
});

test('in the examples, std and the docs\' complete journeys, every string and interpolation is closed where it should be', async () => {
  // The grammar closes a string or an interpolation at the end of its line whatever happens
  // (so a typo never colours the rest of the file); in files that check clean, each must
  // close on its own closing mark, and nothing is marked invalid.
  const clean = journeyFiles().filter((f) => !f.rel.startsWith(path.join('tests', 'ui')));
  const sources = [...clean, ...docBlocks()];
  assert.ok(docBlocks().length > 10, 'the docs have complete journeys');
  const problems = [];
  for (const { rel, text } of sources) {
    for (const l of await tokenize(text)) {
      const count = (scope) => l.tokens.filter((t) => t.scopes.includes(scope)).length;
      const where = `${rel}:${l.number}: ${JSON.stringify(l.line)}`;
      const strings = [count('punctuation.definition.string.begin.journey'), count('punctuation.definition.string.end.journey')];
      if (strings[0] !== strings[1]) problems.push(`${where}: ${strings[0]} strings opened, ${strings[1]} closed`);
      const interps = [count(INTERP_BEGIN), count(INTERP_END)];
      if (interps[0] !== interps[1]) problems.push(`${where}: ${interps[0]} interpolations opened, ${interps[1]} closed`);
      // Every `{{` in the line's strings is an interpolation, and every quote a string mark.
      const braces = l.tokens.filter((t) => t.scopes.includes(STRING) && !t.scopes.includes('constant.character.escape.journey'))
        .map((t) => t.text).join('').split('{{').length - 1;
      if (braces !== interps[0]) problems.push(`${where}: ${braces} {{ but ${interps[0]} interpolations`);
      const invalid = l.tokens.find((t) => t.scopes.some((s) => s.startsWith('invalid')));
      if (invalid) problems.push(`${where}: ${JSON.stringify(invalid.text)} is ${invalid.scopes.join(' ')}`);
    }
  }
  assert.deepStrictEqual(problems, []);
});

test('keywords in the examples are scoped as keywords wherever they start a statement', async () => {
  // The first word of a statement line is a keyword (or a declaration word) in every
  // example and std file: a word the grammar forgets shows up here.
  const first = /^\s*([A-Za-z_]+)\b/;
  const problems = [];
  for (const { rel, text } of journeyFiles().filter((f) => !f.rel.startsWith(path.join('tests', 'ui')))) {
    for (const l of await tokenize(text)) {
      const m = first.exec(l.line);
      if (!m) continue;
      const token = l.tokens.find((t) => t.text.trim() === m[1]);
      const ok = token && token.scopes.some((s) => s.startsWith('keyword.') || s === STORAGE || s.startsWith('comment'));
      // `set` targets such as `pageCount = 0` inside `api` blocks of tests are assignments.
      const assignment = /^\s*[A-Za-z_][\w.]*\s*=/.test(l.line);
      if (!ok && !assignment) problems.push(`${rel}:${l.number}: ${JSON.stringify(m[1])} is ${token ? token.scopes.join(' ') : 'not a token'}`);
    }
  }
  assert.deepStrictEqual(problems, []);
});
