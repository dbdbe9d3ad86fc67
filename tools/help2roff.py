#!/usr/bin/env python3
"""tools/help2roff.py — a man page (roff, man macros) from a program's --help.

  help2roff.py --name NAME --summary TEXT --version V [--see-also PAGES]
               [--extra FILE] -- COMMAND [ARGS...]

Runs COMMAND --help (ARGS included, so `bash tools/plot` works), and turns
GLib's help layout into a page: the "Usage:" block becomes SYNOPSIS, the
paragraphs before the first "...:" heading DESCRIPTION, each "X Options:"
block a subsection of OPTIONS (one .TP per option line), any other heading
("Plots:", "Environment:") a section of its own.  --extra appends a roff
fragment (FILES, EXAMPLES).  The page goes to stdout.  help2man is not
required; the layout it understands is the one minibit's programs print.
"""
import argparse
import os
import re
import subprocess
import sys


def esc(text):
    """Escape text for roff: backslashes, and a leading . or '."""
    text = text.replace("\\", "\\e")
    text = text.replace("\u2026", "...")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def opt_roff(spec):
    """'-o, --out=DIR' -> '\\fB\\-o\\fR, \\fB\\-\\-out\\fR=\\fIDIR\\fR'."""
    parts = []
    for item in spec.split(", "):
        m = re.match(r"^(-{1,2}[A-Za-z0-9][-A-Za-z0-9]*)(?:([= ])(.*))?$", item)
        if not m:
            parts.append(esc(item))
            continue
        flag = m.group(1).replace("-", "\\-")
        s = "\\fB" + flag + "\\fR"
        if m.group(3):
            s += m.group(2) + "\\fI" + esc(m.group(3)) + "\\fR"
        parts.append(s)
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("--see-also", default="")
    ap.add_argument("--extra")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = [c for c in a.command if c != "--"]
    if not cmd:
        ap.error("no command")
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    r = subprocess.run(cmd + ["--help"], capture_output=True, text=True, env=env, timeout=30)
    if r.returncode != 0 or "Usage:" not in r.stdout:
        sys.stderr.write("help2roff: %s --help failed (status %d): %s\n"
                         % (" ".join(cmd), r.returncode, r.stderr.strip()))
        return 1
    lines = r.stdout.replace("OPTION?", "OPTION...").replace("OPTION\u2026", "OPTION...").splitlines()

    out = []
    out.append('.TH %s 1 "" "minibit %s" "User Commands"' % (a.name.upper().replace("-", "\\-"), a.version))
    out.append(".nh")
    out.append(".ad l")
    out.append(".SH NAME")
    out.append("%s \\- %s" % (a.name.replace("-", "\\-"), esc(a.summary)))

    # Split into blocks: a heading line (no indent, ends with ':') and the
    # lines under it up to the next heading; text before any heading too.
    blocks = []  # (heading or None, [lines])
    cur = (None, [])
    for line in lines:
        if re.match(r"^\S.*:$", line):
            blocks.append(cur)
            cur = (line[:-1], [])
        else:
            cur[1].append(line)
    blocks.append(cur)

    def paragraphs(body):
        """Blank-line separated paragraphs; "Environment:" and "HTTP:" lines
        start one of their own."""
        paras, p = [], []
        for l in body:
            if re.match(r"^\s*(Environment|HTTP|Exit status):", l) and p:
                paras.append(p)
                p = []
            if l.strip():
                p.append(l.strip())
            elif p:
                paras.append(p)
                p = []
        if p:
            paras.append(p)
        return paras

    synopsis, description, environment, options, others = [], [], [], [], []

    def add_text(body):
        for para in paragraphs(body):
            if para[0].startswith("Environment:"):
                para[0] = para[0][len("Environment:"):].strip()
                environment.append([l for l in para if l])
            else:
                description.append(para)

    for heading, body in blocks:
        if heading is None:
            add_text(body)
        elif heading == "Usage":
            paras = paragraphs(body)
            for l in (paras[0] if paras else []):
                words = l.split()
                rest = " ".join(words[1:])
                m = re.match(r"^(.*?)\s+- (.*)$", rest)  # GLib's "PARAMS - summary"
                if m:
                    rest = m.group(1)
                    description.append([m.group(2)])
                synopsis.append(rest)
            add_text([x for para in paras[1:] for x in para + [""]])
        elif heading.endswith("Options"):
            items, trailing, in_opts = [], [], True
            for l in body:
                m = re.match(r"^  (-\S.*?)(?:\s{2,}(.*))?$", l)
                if in_opts and m:
                    items.append([m.group(1), [m.group(2)] if m.group(2) else []])
                elif in_opts and l.strip() and items:
                    items[-1][1].append(l.strip())
                elif not l.strip():
                    in_opts = not items  # a blank line after options ends them
                else:
                    trailing.append(l)
            options.append((heading, items))
            add_text(trailing)
        else:
            others.append((heading, paragraphs(body)))

    def emit_paras(paras):
        for i, para in enumerate(paras):
            if i:
                out.append(".PP")
            out.extend(esc(l) for l in para)

    out.append(".SH SYNOPSIS")
    for rest in synopsis or [""]:
        out.append(".B " + a.name.replace("-", "\\-"))
        if rest:
            out.append(esc(rest).replace("-", "\\-"))
        out.append(".br")
    if description:
        out.append(".SH DESCRIPTION")
        emit_paras(description)
    if options:
        out.append(".SH OPTIONS")
        for heading, items in options:
            out.append(".SS " + esc(heading))
            for spec, text in items:
                out.append(".TP")
                out.append(opt_roff(spec))
                out.extend(esc(t) for t in text)
    for heading, paras in others:
        out.append(".SH " + esc(heading.upper()))
        emit_paras(paras)
    if environment:
        out.append(".SH ENVIRONMENT")
        for i, para in enumerate(environment):
            if i:
                out.append(".PP")
            for l in para:
                out.append(esc(l))
                out.append(".br")

    if a.extra:
        with open(a.extra, encoding="utf-8") as f:
            out.append(f.read().rstrip("\n"))
    if a.see_also:
        out.append(".SH SEE ALSO")
        pages = [p.strip() for p in a.see_also.split(",") if p.strip()]
        out.append(",\n".join(".BR %s (1)" % p.replace("-", "\\-") for p in pages))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
