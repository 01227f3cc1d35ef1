import { describe, expect, it } from 'vitest';
import { stripIndentation } from '../src/web/views.js';

describe('templates lose their indentation, not their meaning (src/web/views.ts)', () => {
  it('drops the spaces and tabs that start a line and keeps the line breaks between words and elements', () => {
    expect(stripIndentation('<ul>\n    <li>{{ a }}\n\t\t<b>x</b></li>\n  </ul>\n')).toBe('<ul>\n<li>{{ a }}\n<b>x</b></li>\n</ul>\n');
    expect(stripIndentation('<p>one\n      two</p>')).toBe('<p>one\ntwo</p>');
  });

  it('leaves <pre> and <textarea> as written, where whitespace is content', () => {
    const pre = '<pre class="code">\n  {\n    "a": 1\n  }\n</pre>';
    const textarea = '<textarea name="notes">\n  {{ values.notes }}</textarea>';
    expect(stripIndentation(`<div>\n  ${pre}\n  ${textarea}\n  <PRE>\n  x</PRE>\n</div>`)).toBe(`<div>\n${pre}\n${textarea}\n<PRE>\n  x</PRE>\n</div>`);
  });
});
