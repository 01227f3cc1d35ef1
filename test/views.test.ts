import nunjucks from 'nunjucks';
import { describe, expect, it } from 'vitest';
import { stripIndentation } from '../src/web/views.js';

describe("Nunjucks' runtime, sped up in views.ts, renders as before", () => {
  // Expected outputs are those of Nunjucks 3.2.4 unpatched.
  const env = new nunjucks.Environment(null, { autoescape: true });
  const render = (template: string) =>
    env.renderString(template, { xs: ['a', 'b'], s: `<b>&'"\\`, plain: 'Кузнецова Дарья', safe: '<i>ok</i>' });

  it('escapes what needs escaping and passes the rest and safe values through', () => {
    expect(render('{{ s }}|{{ plain }}|{{ safe | safe }}')).toBe('&lt;b&gt;&amp;&#39;&quot;&#92;|Кузнецова Дарья|<i>ok</i>');
  });

  it('keeps loop variables and the scoping of set in loops, conditions and macros', () => {
    expect(render(`{% for x in xs %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}`)).toBe('1/2,2/2');
    expect(render('{% set total = 0 %}{% for i in [1, 2, 3] %}{% set total = total + i %}{% endfor %}{{ total }}')).toBe('6');
    expect(render('{% set n = 1 %}{% if true %}{% set n = 2 %}{% endif %}{{ n }}')).toBe('2');
    expect(render('{% macro m(a) %}{% set a = a + 1 %}{{ a }}{% endmacro %}{{ m(1) }}{{ m(5) }}')).toBe('26');
  });
});

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
