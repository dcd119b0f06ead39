#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Man pages (section 3) from the public headers' comments, one per WEFT_API
function, through scdoc (meson -Ddocs=true; docs/meson.build).

  gen-man.py --list HEADER...                  the functions, one a line
  gen-man.py --scdoc SCDOC --outdir DIR --version V HEADER...
                                               writes DIR/<function>.3

A function's page: NAME (its name and the comment's first sentence),
SYNOPSIS (the declaration), DESCRIPTION (the comment right above it, or
above the run of declarations it belongs to), the header's own opening
comment (the rules its functions share), SEE ALSO. The headers' comments
are plain /* */ text; nothing in them is markup, so every character scdoc
would read as markup is escaped.
"""
import argparse
import os
import re
import subprocess
import sys


def comment_text(lines):
    """The text of a /* */ comment, one string per paragraph."""
    out, para = [], []
    for raw in lines:
        s = raw.strip()
        s = re.sub(r'^/\*+', '', s)
        s = re.sub(r'\*+/$', '', s)
        s = re.sub(r'^\*(?!/)', '', s).strip()
        if s:
            para.append(s)
        elif para:
            out.append(' '.join(para))
            para = []
    if para:
        out.append(' '.join(para))
    return out


def parse(path):
    """(header_paragraphs, [(name, declaration, paragraphs)]) of a header."""
    with open(path) as f:
        lines = f.read().splitlines()
    header, funcs = None, []
    pending = None  # the comment that describes the next declaration
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith('/*'):
            block = [line]
            while '*/' not in lines[i]:
                i += 1
                block.append(lines[i])
            text = comment_text(block)
            if text and not text[0].startswith('SPDX-License-Identifier'):
                if header is None:
                    header = text
                else:
                    pending = text
        elif s.startswith('WEFT_API'):
            decl = [s]
            while ';' not in lines[i]:
                i += 1
                decl.append(lines[i].strip())
            d = re.sub(r'\s+', ' ', ' '.join(decl))
            d = re.sub(r'^WEFT_API ', '', d)
            d = re.sub(r'\s*WEFT_PRINTF\([^)]*\)', '', d)
            name = re.match(r'[^(]*?([A-Za-z_][A-Za-z0-9_]*)\s*\(', d).group(1)
            funcs.append((name, d, pending or []))
        elif s and not s.startswith('#') and not s.startswith('//'):
            pending = None  # code between a comment and a declaration
        i += 1
    return header or [], funcs


def esc(text):
    """Plain text for scdoc: no markup, no line-start syntax."""
    text = text.replace('\\', '\\\\').replace('*', '\\*').replace('_', '\\_').replace('`', '\\`')
    return text


def page(name, decl, paras, header_file, header_paras, siblings, version):
    first = paras[0] if paras else 'see <weft/%s>' % header_file
    brief = re.split(r'(?<=\.)\s', first, maxsplit=1)[0].rstrip('.')
    out = ['%s(3) "weft %s" "weft manual"' % (name, version), '',
           '# NAME', '', '%s - %s' % (esc(name), esc(brief)), '',
           '# SYNOPSIS', '', '```', '#include <weft.h>', '', decl, '```', '',
           '# DESCRIPTION', '']
    for p in paras or ['No comment of its own: see <weft/%s> below.' % header_file]:
        out += [esc(p), '']
    if header_paras:
        out += ['# THE FUNCTIONS OF <weft/%s>' % header_file, '']
        for p in header_paras:
            out += [esc(p), '']
    others = [s for s in siblings if s != name]
    if others:
        out += ['# SEE ALSO', '', ', '.join('*%s*(3)' % esc(s) for s in others), '']
    return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--scdoc')
    ap.add_argument('--outdir')
    ap.add_argument('--version', default='')
    ap.add_argument('headers', nargs='+')
    a = ap.parse_args()
    parsed = [(h, *parse(h)) for h in a.headers]
    if a.list:
        for _, _, funcs in parsed:
            for name, _, _ in funcs:
                print(name)
        return 0
    for path, header_paras, funcs in parsed:
        hf = os.path.basename(path)
        names = [n for n, _, _ in funcs]
        for name, decl, paras in funcs:
            src = page(name, decl, paras, hf, header_paras, names, a.version)
            r = subprocess.run([a.scdoc], input=src, capture_output=True, text=True)
            if r.returncode != 0 or not r.stdout:
                sys.stderr.write('gen-man.py: scdoc refused the page of %s: %s\n%s' %
                                 (name, r.stderr.strip(), src))
                return 1
            with open(os.path.join(a.outdir, name + '.3'), 'w') as f:
                f.write(r.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
