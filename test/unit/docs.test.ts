/**
 * The documentation as a whole: README.md stays the admin's short front door, every link between the
 * READMEs lands on a file and a heading that exist, and nothing points outside the repository.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

// The changelog is the lead's, written at the end; every other Markdown file in the repository.
const files = execFileSync('git', ['ls-files', '*.md'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f !== '' && f !== 'CHANGELOG.md' && existsSync(f));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? '')));
}

/** Markdown links outside code blocks and code spans. */
function links(file: string): string[] {
  const text = readFileSync(file, 'utf8')
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
}

describe('the documentation', () => {
  it('has the front door and the folder READMEs', () => {
    for (const f of [
      'README.md',
      'firmware/README.md',
      'test/README.md',
      'scripts/README.md',
      'hardware/modems/README.md',
    ])
      expect(files).toContain(f);
  });

  it('keeps README.md under 25 KB: deep reference goes in the folder READMEs', () => {
    expect(readFileSync('README.md').length).toBeLessThan(25 * 1024);
  });

  it.each(files)('%s: every link lands on a file and a heading that exist, inside the repository', (file) => {
    for (const link of links(file)) {
      expect(link, `${file} links outside the repository`).not.toMatch(/^[a-z]+:/i);
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? file : normalize(join(dirname(file), path));
      expect(existsSync(target), `${file} → ${link}`).toBe(true);
      if (anchor !== undefined) expect([...anchors(target)], `${file} → ${link}`).toContain(anchor);
    }
  });

  it.each(files)('%s: names no web address but the box itself', (file) => {
    const text = readFileSync(file, 'utf8');
    for (const [url] of text.matchAll(/https?:\/\/[^\s)`'"]+/g))
      expect(url, file).toMatch(/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\]|<box>)[:/]/);
  });

  it.each(files)('%s: says what is, not what a later issue will do', (file) => {
    expect(readFileSync(file, 'utf8')).not.toMatch(
      /\b(a |the )?(later|future|next) (issue|part|ticket)s?\b/i,
    );
  });

  it('catches a broken link and an outside one', () => {
    expect(slug('Configuration (`radius`)')).toBe('configuration-radius');
    expect(slug('Retries: before and after Ctrl-Z')).toBe('retries-before-and-after-ctrl-z');
    expect(anchors('README.md')).toContain('netscaler-recipe');
    expect(anchors('firmware/README.md')).toContain('error-codes');
    expect(anchors('README.md')).not.toContain('no-such-heading');
  });
});
